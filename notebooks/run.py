"""Execute the teaching notebooks with nbclient.

Usage::

    python notebooks/run.py                  # every notebook, normal mode, outputs written back
    python notebooks/run.py 02 tilting       # some of them (file names, stems, or prefixes)
    python notebooks/run.py --fast           # fast mode: GAUSSCLIP_FAST=1, nothing written

Normal mode stores the executed notebooks (outputs and plots) in place, atomically, so a crash
never leaves a half-written file. Fast mode is what ``tests/test_notebooks.py`` runs: small
sizes, the Agg backend (no images), and the notebooks on disk stay untouched.

The kernel is ipykernel's native ``python3``: jupyter_client starts it with the interpreter that
runs this script (``sys.executable``), so run it with the project's venv Python.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parent
KERNEL_NAME = "python3"
#: Seconds a single cell may take: the longest normal-mode cells train the MNIST and Lagrangian
#: models (a few minutes each the first time, then loaded from the cache).
CELL_TIMEOUT = {"fast": 120, "normal": 1800}


def notebooks(names=()):
    """Paths of the notebooks matching ``names`` (all of them, sorted, when empty)."""
    paths = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    if not names:
        return paths
    chosen = []
    for name in names:
        stem = Path(name).stem
        matches = [p for p in paths if p.stem == stem or p.stem.startswith(stem) or stem in p.stem]
        if not matches:
            known = ", ".join(p.stem for p in paths)
            raise SystemExit(f"no notebook matches {name!r}; known: {known}")
        chosen.extend(p for p in matches if p not in chosen)
    return chosen


def kernel_env(fast):
    """The environment of the kernel: fast mode sets GAUSSCLIP_FAST=1 and the Agg backend;
    normal mode removes both, so ipykernel's inline backend stores the plots."""
    env = dict(os.environ)
    if fast:
        env["GAUSSCLIP_FAST"] = "1"
        env["MPLBACKEND"] = "Agg"
    else:
        env.pop("GAUSSCLIP_FAST", None)
        env.pop("MPLBACKEND", None)
    return env


def execute(path, *, fast, timeout=None):
    """Execute the notebook at ``path`` (in its folder); returns ``(notebook, seconds)``.

    Raises ``nbclient.exceptions.CellExecutionError`` when a cell fails.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=timeout or CELL_TIMEOUT["fast" if fast else "normal"],
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,  # no per-cell timestamps: stored notebooks diff cleanly
    )
    start = time.perf_counter()
    client.execute(env=kernel_env(fast))
    # The sliders of notebooks 01 and 05 live in a running Jupyter only: their state in the
    # file would be stale, and would make the website load widget JavaScript from a CDN.
    nb.metadata.pop("widgets", None)
    return nb, time.perf_counter() - start


def write(nb, path):
    """Write ``nb`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    from gaussclip.io import atomic_write_bytes

    text = nbformat.writes(nb)
    if not text.endswith("\n"):
        text += "\n"  # as nbformat.write does
    atomic_write_bytes(Path(path), text.encode("utf-8"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all)")
    parser.add_argument(
        "--fast", action="store_true", help="GAUSSCLIP_FAST=1, small sizes; nothing is written"
    )
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell")
    args = parser.parse_args(argv)
    failed = []
    for path in notebooks(args.names):
        try:
            nb, seconds = execute(path, fast=args.fast, timeout=args.timeout)
        except Exception as exc:  # report every notebook, then fail
            failed.append(path.name)
            print(f"FAILED {path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        note = ""
        if not args.fast:
            write(nb, path)
            note = f", written ({path.stat().st_size / 1024:.0f} KiB)"
        print(f"{path.name}: {seconds:.1f} s{' (fast)' if args.fast else ''}{note}", flush=True)
    if failed:
        raise SystemExit(f"{len(failed)} notebook(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
