"""The ``gaussclip`` command: ``verify``, ``figures``, ``data`` and ``bench``.

* ``gaussclip verify [--only ID ...] [--json]`` -- run the symbolic checks of the paper.
* ``gaussclip figures [--quick|--full] [--only N ...] [--out DIR] [--jobs N]`` -- reproduce figures
  (same options as ``python -m paper_figures``).
* ``gaussclip data NAME`` -- fetch or build a data set into the cache (``mnist``, ``lagrangian``).
* ``gaussclip bench [NAME ...]`` -- run the benchmarks in ``benchmarks/`` (source checkout only).
"""

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

DATASETS = ("mnist", "lagrangian")
BENCHMARKS = ("engine", "trainer", "lagrangian")


def _verify(args):
    from .symbolic import run_cli

    return run_cli(only=args.only, as_json=args.json)


def _figures(args):
    from paper_figures.__main__ import main as figures_main

    return figures_main(args.rest)


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
