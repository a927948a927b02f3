"""Reproduce the paper's figures: ``python -m paper_figures [--quick|--full|--tiny] [--only N ...]
[--out DIR] [--jobs N]`` (also ``gaussclip figures ...``).

Every ``figNN_<slug>.py`` in this folder is discovered and run; each writes ``figNN_<slug>.png``
and ``figNN_<slug>.json`` into the output folder. ``--jobs`` sets joblib's ``n_jobs`` for the
sweep points inside the scripts (default: all cores). A table of timings is printed at the end
and written to ``run_summary.json``.
"""

import argparse
import importlib
import platform
import re
import sys
import time
import traceback
from pathlib import Path

import joblib
import matplotlib

from gaussclip.io import atomic_write_json

from .paths import FIGURES_DIR, SCRIPTS_DIR

_SCRIPT = re.compile(r"^fig(\d\d)_[a-z0-9_]+\.py$")
SUMMARY_NAME = "run_summary.json"


def discover(folder=SCRIPTS_DIR):
    """``{number: module name}`` of every ``figNN_<slug>.py`` in ``folder``.

    Raises
    ------
    RuntimeError
        When two scripts claim the same figure number.
    """
    found = {}
    for path in sorted(Path(folder).iterdir()):
        match = _SCRIPT.match(path.name)
        if match:
            number = int(match.group(1))
            if number in found:
                raise RuntimeError(
                    f"two scripts for figure {number}: {found[number]} and {path.stem}; rename one."
                )
            found[number] = f"paper_figures.{path.stem}"
    return found


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m paper_figures",
        description="Reproduce the figures of Baptista, Stuart, Tran (arXiv:2505.24134).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="mode",
        action="store_const",
        const="quick",
        help="small grids/epochs, every phenomenon visible (default)",
    )
    mode.add_argument(
        "--full", dest="mode", action="store_const", const="full", help="the paper's settings"
    )
    mode.add_argument(
        "--tiny",
        dest="mode",
        action="store_const",
        const="tiny",
        help="smoke-test size (seconds; not for reading)",
    )
    parser.add_argument("--only", nargs="+", type=int, metavar="N", help="figure numbers to run")
    parser.add_argument(
        "--out", type=Path, default=FIGURES_DIR, help=f"output folder (default: {FIGURES_DIR})"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=-1,
        metavar="N",
        help="parallel jobs for sweep points (joblib n_jobs; default -1: all cores)",
    )
    return parser


def run(numbers_to_modules, out_dir, mode, jobs):
    """Run the scripts; returns a list of ``(number, module, seconds, error or None)``."""
    results = []
    for number, module_name in sorted(numbers_to_modules.items()):
        start = time.perf_counter()
        error = None
        try:
            module = importlib.import_module(module_name)
            with joblib.parallel_config(n_jobs=jobs):
                module.main(out_dir, mode)
        except Exception as exc:  # report every failing figure, then exit non-zero
            traceback.print_exc()
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        status = "FAILED" if error else "ok"
        print(f"figure {number:02d}: {seconds:7.2f} s  {status:6s} ({module_name})", flush=True)
        results.append((number, module_name, seconds, error))
    return results


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    mode = args.mode or "quick"
    if args.jobs == 0 or args.jobs < -1:
        parser.error(f"--jobs must be a positive number or -1 (all cores); got {args.jobs}.")
    matplotlib.use("Agg")  # no display needed, ever
    scripts = discover()
    if args.only:
        missing = sorted(set(args.only) - set(scripts))
        if missing:
            parser.error(f"no script for figure(s) {missing}; available: {sorted(scripts)}")
        scripts = {n: scripts[n] for n in args.only}
    if not scripts:
        print("paper_figures: no figure scripts found; nothing to do.")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"paper_figures: {len(scripts)} figure(s), mode {mode!r}, jobs {args.jobs}, -> {args.out}"
    )
    start = time.perf_counter()
    results = run(scripts, args.out, mode, args.jobs)
    total = time.perf_counter() - start
    failed = [r for r in results if r[3]]
    print(f"total: {total:.2f} s for {len(results)} figure(s); {len(failed)} failed.")
    atomic_write_json(
        args.out / SUMMARY_NAME,
        {
            "mode": mode,
            "jobs": args.jobs,
            "total_seconds": total,
            "python": platform.python_version(),
            "figures": [
                {"figure": n, "module": m, "seconds": s, "error": e} for n, m, s, e in results
            ],
        },
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
