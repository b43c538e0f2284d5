"""Keep the memory of freed tensors in the process, so the next step reuses it instead of faulting fresh pages in.

A training step allocates and frees the same large blocks every time: a conv's output, a pooling gradient
(lean at batch 256: 19 MB each at 28x28). glibc's malloc hands blocks that large to mmap and gives them back
on free; its threshold adapts only partly to this pattern, so every step the kernel maps and zeroes fresh
pages, and the first write to each page faults. Measured on the 2-core AVX2 machine, lean, batch 256, one
thread: 7,500 to 9,000 minor page faults a step (30 to 35 MB of fresh pages), and zeroing a 19 MB pooling
gradient took 12 ms where reused memory takes 1 ms. With the two thresholds below fixed: no faults a step,
and 1.17 times lean's training images a second, two threads (median of 7 pairs of whole runs side by side,
0.92 to 1.21: `python benchmarks/architectures.py lean lean --b-at REV`, REV a revision without this).

The cost: up to TRIM_THRESHOLD of freed memory at the top of the heap stays with the process until it ends
(the peak of one step, tens of MB for the built-in networks). Only glibc is tuned; elsewhere this does
nothing, and so it does where the user tuned malloc through the environment already.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # blocks below this come from the heap; glibc's ceiling for it on 64-bit systems
TRIM_THRESHOLD = 2**30  # free memory at the heap's top is kept up to this, not handed back after every step
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def keep_freed_memory(environ: Mapping[str, str] = os.environ) -> bool:
    """Fix glibc's mmap and trim thresholds for this process; True when they were set."""
    if not sys.platform.startswith("linux") or user_tuned(environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a libc without mallopt: nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # musl's mallopt is a stub that returns 0; glibc's returns 1 for each value it takes
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def user_tuned(environ: Mapping[str, str]) -> bool:
    """The user set malloc's thresholds already (MALLOC_*_ or GLIBC_TUNABLES): theirs win."""
    return any(environ.get(name) for name in USER_SETTINGS) or "glibc.malloc." in environ.get("GLIBC_TUNABLES", "")
