"""Keep freed memory in the process while training (glibc's ``malloc`` on Linux).

A training step allocates the same large arrays every step (activations kept for the backward
pass, gradients: tens of megabytes each). glibc serves allocations above its
mmap threshold (dynamic, at most 32 MB by default) with fresh ``mmap`` pages and gives them
back to the system on ``free``, so every step touches those pages anew: thousands of page faults,
each zeroing a page in the kernel, which on LeNet-5 at batch 512 cost about 40% of a step.
:func:`keep_freed_memory` raises the mmap threshold and the trim threshold with ``mallopt``, so
freed blocks stay in the heap and the next step reuses them.

The setting is process-wide (it also speeds up any other library in the process, e.g. PyTorch
in ``benchmarks/bench_trainer.py``, which runs both under it). The price is that the process
keeps up to :data:`TRIM_THRESHOLD` bytes of freed memory instead of returning it. Set the
environment variable ``GAUSSCLIP_KEEP_FREED_MEMORY=0`` to leave the allocator alone. Elsewhere
than on glibc it does nothing.
"""

import ctypes
import ctypes.util
import os

#: Allocations below this many bytes come from the heap, not from fresh ``mmap`` pages.
MMAP_THRESHOLD = 1 << 29
#: Freed memory kept at the top of the heap before it is returned to the system.
TRIM_THRESHOLD = 1 << 30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_STATE = {"done": False}


def keep_freed_memory():
    """Set glibc's mmap and trim thresholds once per process; returns whether they are set.

    Does nothing (returns False) when ``GAUSSCLIP_KEEP_FREED_MEMORY=0`` or when the C library
    has no ``mallopt`` (not glibc).
    """
    if _STATE["done"]:
        return True
    if os.environ.get("GAUSSCLIP_KEEP_FREED_MEMORY", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _STATE["done"] = ok
    return ok
