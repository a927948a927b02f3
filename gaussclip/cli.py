"""The ``gaussclip`` command: ``verify``, ``check``, ``figures``, ``data`` and ``bench``.

* ``gaussclip verify [--only ID ...] [--json]`` -- run the symbolic checks of the paper.
* ``gaussclip check [--only ID ...] [--examples N] [--seed S] [--jobs J] [--json]`` -- search for
  counterexamples to the paper's numerical statements with Hypothesis (``gaussclip.testing``).
* ``gaussclip figures [--quick|--full] [--only N ...] [--out DIR] [--jobs N] [--workers N]`` --
  reproduce figures (same options as ``python -m paper_figures``).
* ``gaussclip data NAME`` -- fetch or build a data set into the cache (``mnist``, ``lagrangian``).
* ``gaussclip bench [NAME ...]`` -- run the benchmarks in ``benchmarks/`` (source checkout only).
"""

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

DATASETS = ("mnist", "lagrangian")
BENCHMARKS = ("engine", "trainer", "lagrangian", "properties")


def _verify(args):
    from .symbolic import run_cli

    return run_cli(only=args.only, as_json=args.json)


def _check(args):
    try:
        from .testing.runner import run_cli
    except ImportError as exc:  # Hypothesis missing: the message names the extra to install
        print(f"gaussclip check: {exc}", file=sys.stderr)
        return 2
    return run_cli(
        only=args.only, examples=args.examples, seed=args.seed, as_json=args.json, jobs=args.jobs
    )


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def _seed(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer; got {text}")
    return value


def _figures(args):
    # A subprocess, not an import: the package never imports the figure scripts (.importlinter).
    return subprocess.call([sys.executable, "-m", "paper_figures", *args.rest])


def _data(args):
    try:
        module = importlib.import_module(f"gaussclip.data.{args.name}")
    except ModuleNotFoundError:
        print(f"gaussclip data: the {args.name!r} data set is not available in this version.")
        return 2
    module.prefetch()
    return 0


def _bench(args):
    root = Path(__file__).resolve().parent.parent / "benchmarks"
    if not root.is_dir():
        print("gaussclip bench: benchmarks/ is only in a source checkout of gaussclip.")
        return 2
    status = 0
    for name in args.names or BENCHMARKS:
        script = root / f"bench_{name}.py"
        if not script.exists():
            print(f"gaussclip bench: no benchmark {name!r} ({script.name} missing).")
            status = 2
            continue
        status = max(status, subprocess.call([sys.executable, str(script)]))
    return status


def build_parser():
    """The ``argparse`` parser of the ``gaussclip`` command and its subcommands."""
    parser = argparse.ArgumentParser(prog="gaussclip", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    verify = sub.add_parser("verify", help="machine-check the paper's results (SymPy)")
    verify.add_argument("--only", nargs="+", metavar="ID", help="check ids to run (e.g. thm-5.1)")
    verify.add_argument("--json", action="store_true", help="print JSON instead of a table")
    verify.set_defaults(func=_verify)

    check = sub.add_parser(
        "check",
        help="search for counterexamples to the paper's results (Hypothesis)",
        description="Run Hypothesis on every property of gaussclip.testing.properties (or those "
        "named by --only) with a deterministic profile: the same --seed tries the same examples. "
        "Exit status 0 when all hold, 1 when one fails (its shrunk counterexample is printed as "
        "Python), 2 for an unknown id.",
    )
    check.add_argument("--only", nargs="+", metavar="ID", help="property ids (e.g. thm-5.1)")
    check.add_argument(
        # = gaussclip.testing.DEFAULT_EXAMPLES (not imported here: Hypothesis is optional)
        "--examples",
        type=_positive_int,
        default=200,
        metavar="N",
        help="examples per property",
    )
    check.add_argument("--seed", type=_seed, default=0, metavar="S", help="Hypothesis seed")
    check.add_argument(
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="J",
        help="processes searching different properties at once (same results, sooner; "
        "default: one per CPU)",
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.set_defaults(func=_check)

    figures = sub.add_parser("figures", help="reproduce the paper's figures", add_help=False)
    figures.add_argument("rest", nargs=argparse.REMAINDER)
    figures.set_defaults(func=_figures)

    data = sub.add_parser("data", help="fetch or build a data set into the cache")
    data.add_argument("name", choices=DATASETS)
    data.set_defaults(func=_data)

    bench = sub.add_parser("bench", help="run benchmarks (source checkout)")
    bench.add_argument("names", nargs="*", choices=BENCHMARKS, metavar="NAME")
    bench.set_defaults(func=_bench)
    return parser


def main(argv=None):
    """Run ``gaussclip`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["figures"]:
        # argparse.REMAINDER does not capture options that come first (`figures --quick`), so
        # everything after `figures` goes to the figure runner unparsed.
        return _figures(argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
