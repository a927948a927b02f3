"""Benchmark of the built-in theorem properties of ``gaussclip check``: examples per second.

For every registered built-in property (or those named by ``--only``) it runs
:func:`gaussclip.testing.search` with ``--examples`` examples (default 2000, the issue's
setting) and reports wall-clock and CPU seconds (``time.process_time``, which does not grow when
other processes share the machine), examples per second by each clock, and the ratio of the CPU
rate to the target of :data:`TARGET` examples per second.

``--split`` also runs each property's strategy with a body that does nothing (same seed, same
number of examples), so the CPU time per example separates into

* ``draw``  -- Hypothesis's own bookkeeping plus building the example (joint Gaussian,
  encoders, ...), and
* ``check`` -- the property's body: gaussclip's answer and the independent route it is compared
  with (``full - draw``).

The first row, ``(hypothesis floor)``, is what Hypothesis alone costs per example for the shape
of draws the built-in properties make (the pair of sizes in [1, 6] as one choice and one blob of
bytes, no NumPy, a body that does nothing): no property can be faster than it.

The header prints the git revision and the load average (the machine is shared: compare CPU
rates, or wall rates taken on an idle machine). Run with ``OMP_NUM_THREADS=1`` as the project
does (BLAS threads only cost time on matrices this small):

    OMP_NUM_THREADS=1 python benchmarks/bench_properties.py [--examples N] [--only ID ...] [--split]

(or ``gaussclip bench properties``).
"""

import argparse
import os
import subprocess
import time
from pathlib import Path

from hypothesis import strategies as st

from gaussclip.testing import Property, registered, search
from gaussclip.testing.properties import SIZE_PAIRS

#: The issue's speed target: examples per second of every built-in property at n_u, n_v <= 6.
TARGET = 200.0


def _revision():
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _noop(**kwargs):
    return None


#: Bytes of the floor's blob (one per drawn number): about what a joint Gaussian with
#: n_u, n_v ~ 4 (50 numbers) and a rank-one pair of encoders take.
FLOOR_BYTES = 60


@st.composite
def _floor_draws(draw):
    return {
        "sizes": draw(SIZE_PAIRS),
        "blob": draw(st.binary(min_size=FLOOR_BYTES, max_size=FLOOR_BYTES)),
    }


FLOOR = Property(
    "(hypothesis floor)",
    "Hypothesis's own cost per example",
    _noop,
    _floor_draws(),
    global_random=False,  # as the built-in properties
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--only", nargs="+", metavar="ID")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", action="store_true", help="separate draw and check costs")
    args = parser.parse_args(argv)

    props = [p for p in registered() if not args.only or p.id in args.only]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"git {_revision()}  examples {args.examples}  seed {args.seed}  "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}  load average {load}"
    )
    width = max(len(p.id) for p in [*props, FLOOR])
    header = f"{'id':<{width}}  status  wall_s  cpu_s  ex/s  cpu_ex/s  cpu/target"
    if args.split:
        header += "  draw_ms  check_ms"
    print(header)
    total_wall = total_cpu = 0.0
    slowest = None
    floor = search(FLOOR, examples=args.examples, seed=args.seed)
    print(
        f"{FLOOR.id:<{width}}  {floor.status:<6}  {floor.seconds:6.1f}  {floor.cpu_seconds:5.1f}  "
        f"{floor.rate:4.0f}  {floor.cpu_rate:8.0f}  {floor.cpu_rate / TARGET:10.2f}",
        flush=True,
    )
    for prop in props:
        result = search(prop, examples=args.examples, seed=args.seed)
        total_wall += result.seconds
        total_cpu += result.cpu_seconds
        line = (
            f"{prop.id:<{width}}  {result.status:<6}  {result.seconds:6.1f}  "
            f"{result.cpu_seconds:5.1f}  {result.rate:4.0f}  {result.cpu_rate:8.0f}  "
            f"{result.cpu_rate / TARGET:10.2f}"
        )
        if args.split:
            empty = Property(prop.id + "-draw-only", prop.statement, _noop, prop.strategy)
            start = time.process_time()
            drawn = search(empty, examples=args.examples, seed=args.seed)
            draw_ms = 1e3 * (time.process_time() - start) / max(drawn.examples, 1)
            full_ms = 1e3 * result.cpu_seconds / max(result.examples, 1)
            line += f"  {draw_ms:7.2f}  {full_ms - draw_ms:8.2f}"
        print(line, flush=True)
        if slowest is None or result.cpu_rate < slowest.cpu_rate:
            slowest = result
    print(
        f"all {len(props)}: {total_wall:.1f} s wall, {total_cpu:.1f} s CPU; slowest "
        f"{slowest.id} at {slowest.cpu_rate:.0f} examples per CPU second "
        f"({slowest.cpu_rate / TARGET:.2f} x the {TARGET:.0f}/s target); load average now "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )


if __name__ == "__main__":
    main()
