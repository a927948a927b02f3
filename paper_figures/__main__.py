"""Reproduce the paper's figures: ``python -m paper_figures [--quick|--full|--tiny] [--only N ...]
[--out DIR] [--jobs N] [--workers N]`` (also ``gaussclip figures ...``).

Every ``figNN_<slug>.py`` in this folder is discovered and run; each writes ``figNN_<slug>.png``
and ``figNN_<slug>.json`` into the output folder. ``--jobs`` sets joblib's ``n_jobs`` for the
sweep points inside the scripts (default: all cores). The heavy cached work the scripts declare
with ``prepare(mode)`` (training runs, simulated data; :mod:`paper_figures._tasks`) runs in
``--workers`` background processes (default: two per core; 0 = inside the figures, one after
another, with progress bars) while the figures are drawn in order. Each figure's wall time
(including waiting for its background tasks) and CPU time (this process, its helper processes,
the sweep points and its background tasks) is printed, with the total, and written to
``run_summary.json``.
"""

import argparse
import importlib
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

import joblib
import matplotlib

from gaussclip.io import atomic_write_json

from ._tasks import Background, cpu_seconds, release_helpers
from .paths import FIGURES_DIR, REPO_ROOT, SCRIPTS_DIR

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
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="background processes for the figures' training runs and simulations "
        f"(default: {WORKERS_PER_CORE} per core; 0: run them inside the figures, with "
        "progress bars)",
    )
    return parser


#: Background workers per core. The tasks are long and single-threaded (training runs), so
#: with more workers than cores they all run at once and the operating system shares the
#: cores: none waits for a free worker while a core idles at the end of the run.
WORKERS_PER_CORE = 2


def cores():
    """Cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers():
    """:data:`WORKERS_PER_CORE` background workers per core."""
    return WORKERS_PER_CORE * cores()


def collect_tasks(numbers_to_modules, mode):
    """The background tasks every selected script declares (``prepare(mode)``), in figure
    order; a script that fails to import or to declare is skipped here (it fails when run)."""
    tasks = []
    for _, module_name in sorted(numbers_to_modules.items()):
        try:
            prepare = getattr(importlib.import_module(module_name), "prepare", None)
            tasks.extend(prepare(mode) if prepare is not None else [])
        except Exception:  # reported when the figure itself runs
            pass
    return tasks


def run(numbers_to_modules, out_dir, mode, jobs, background=None):
    """Run the scripts, each after its background tasks (``background``, a running
    :class:`~paper_figures._tasks.Background`, or None); returns a list of ``(number, module,
    wall seconds, error or None, CPU seconds)``."""
    results = []
    for number, module_name in sorted(numbers_to_modules.items()):
        start, cpu_start = time.perf_counter(), cpu_seconds()
        task_cpu = 0.0
        error = None
        try:
            module = importlib.import_module(module_name)
            prepare = getattr(module, "prepare", None)
            if background is not None and prepare is not None:
                task_cpu = background.wait([task.key for task in prepare(mode)])
            with joblib.parallel_config(n_jobs=jobs):
                module.main(out_dir, mode)
        except Exception as exc:  # report every failing figure, then exit non-zero
            traceback.print_exc()
            error = f"{type(exc).__name__}: {exc}"
        release_helpers()  # joblib's workers exit, so that their CPU time is counted here
        seconds = time.perf_counter() - start
        cpu = cpu_seconds() - cpu_start + task_cpu
        status = "FAILED" if error else "ok"
        print(
            f"figure {number:02d}: {seconds:7.2f} s  {cpu:7.2f} CPU s  {status:6s} ({module_name})",
            flush=True,
        )
        results.append((number, module_name, seconds, error, cpu))
    return results


def git_revision():
    """``git describe --always --dirty`` of the repository, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _load_average():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    mode = args.mode or "quick"
    if args.jobs == 0 or args.jobs < -1:
        parser.error(f"--jobs must be a positive number or -1 (all cores); got {args.jobs}.")
    if args.workers is not None and args.workers < 0:
        parser.error(f"--workers must be 0 or a positive number; got {args.workers}.")
    workers = default_workers() if args.workers is None else args.workers
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
    tasks = collect_tasks(scripts, mode)
    workers = min(workers, len({t.key for t in tasks}))
    print(
        f"paper_figures: {len(scripts)} figure(s), mode {mode!r}, jobs {args.jobs}, "
        f"{workers} background worker(s) for {len(tasks) and len({t.key for t in tasks})} "
        f"task(s), -> {args.out}",
        flush=True,
    )
    load_before = _load_average()
    start, cpu_start = time.perf_counter(), cpu_seconds()
    with Background(tasks, workers) as background:
        results = run(scripts, args.out, mode, args.jobs, background)
    total = time.perf_counter() - start
    # the worker processes have exited: their whole CPU time (start-up included) is counted
    total_cpu = cpu_seconds() - cpu_start
    failed = [r for r in results if r[3]]
    print(
        f"total: {total:.2f} s ({total / 60:.1f} min) wall, {total_cpu:.1f} CPU s "
        f"({total_cpu / cores() / 60:.1f} min of CPU per core on {cores()} core(s)), for "
        f"{len(results)} figure(s); {len(failed)} failed.",
        flush=True,
    )
    atomic_write_json(
        args.out / SUMMARY_NAME,
        {
            "mode": mode,
            "jobs": args.jobs,
            "workers": workers,
            "total_seconds": total,
            "total_cpu_seconds": total_cpu,
            "cpu_count": cores(),
            "load_average_before": load_before,
            "load_average_after": _load_average(),
            "git_revision": git_revision(),
            "python": platform.python_version(),
            "figures": [
                {"figure": n, "module": m, "seconds": s, "cpu_seconds": c, "error": e}
                for n, m, s, e, c in results
            ],
            "background_tasks": background.report,
        },
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
