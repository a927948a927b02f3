"""keep_freed_memory: once set, a step's large arrays reuse freed heap memory instead of
page-faulting fresh pages; the environment variable opts out."""

import platform
import resource

import numpy as np
import pytest

from gaussclip.train import allocator

#: 64 MB: above glibc's default largest mmap threshold (32 MB), so without the setting every
#: allocation of this size is fresh mmap pages (about 500 faults to fill it here, where NumPy
#: asks for 2 MB huge pages; 16,384 with 4 KB pages).
BIG = 64 << 20
#: Page faults allowed when refilling a reused block (a few for Python's own bookkeeping).
FEW_FAULTS = 50


def _faults_to_fill():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.empty(BIG // 8)
    a.fill(1.0)
    del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_large_arrays_reuse_freed_memory():
    assert allocator.keep_freed_memory()
    _faults_to_fill()  # the first fill grows the heap
    assert _faults_to_fill() < FEW_FAULTS


def test_opt_out_by_environment(monkeypatch):
    monkeypatch.setitem(allocator._STATE, "done", False)
    monkeypatch.setenv("GAUSSCLIP_KEEP_FREED_MEMORY", "0")
    assert allocator.keep_freed_memory() is False
