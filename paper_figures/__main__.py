"""Run the figure scripts: ``python -m paper_figures [--quick|--full] [--only N ...] [--out DIR]
[--jobs N]``."""

import argparse
import importlib
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
_SCRIPT = re.compile(r"^fig(\d\d)_[a-z0-9_]+\.py$")


def discover():
    """``{number: module name}`` of every ``figNN_<slug>.py`` next to this file."""
    found = {}
    for path in sorted(HERE.iterdir()):
        match = _SCRIPT.match(path.name)
        if match:
            found[int(match.group(1))] = f"paper_figures.{path.stem}"
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m paper_figures", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick")
    mode.add_argument("--full", dest="mode", action="store_const", const="full")
    parser.add_argument("--only", nargs="+", type=int, metavar="N", help="figure numbers")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "figures")
    parser.add_argument("--jobs", type=int, default=None, help="parallel jobs (default: cores)")
    args = parser.parse_args(argv)
    mode_name = args.mode or "quick"
    scripts = discover()
    if args.only:
        missing = sorted(set(args.only) - set(scripts))
        if missing:
            parser.error(f"no script for figure(s) {missing}; available: {sorted(scripts)}")
        scripts = {n: scripts[n] for n in args.only}
    if not scripts:
        print("paper_figures: there are no figure scripts yet; nothing to do.")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for number, module_name in sorted(scripts.items()):
        start = time.perf_counter()
        module = importlib.import_module(module_name)
        module.main(args.out, mode_name)
        print(f"figure {number:02d}: {time.perf_counter() - start:6.1f} s  ({module_name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
