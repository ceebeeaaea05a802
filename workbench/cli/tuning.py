"""Process-wide settings for training on a CPU, made by `train`, `sweep` and `bench` before
torch is imported. Each leaves a setting the user already made in the environment alone."""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""mallopt(3) parameter numbers (glibc's malloc.h)."""
MMAP_THRESHOLD_MAX = 32 * 2**20
"""glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems."""


def prepare_training_process() -> None:
    """Both settings below; call first thing in a command that trains."""
    passive_openmp()
    keep_freed_memory()


def passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spinning (set before torch is imported).

    On a small shared CPU (2 cores, other processes busy) spinning threads steal each other's
    time slices: measured here, passive waiting doubled training throughput under load and
    costs little otherwise. An OMP_WAIT_POLICY already in the environment wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed blocks of up to 32 MiB for reuse instead of handing them
    back to the kernel. Returns whether the setting was made.

    A training step frees and reallocates the same activation-sized buffers (10-30 MB at
    128 px, batch 64). By default glibc unmaps or trims them, so every step faults the pages
    back in: 30-45 thousand minor page faults a step and 15-18% of its time on this 2-core CPU
    (``benchmarks/cpu_malloc.py``); jemalloc or tcmalloc would avoid it too, but need an
    LD_PRELOAD. The price: resident memory stays near its peak between steps. Linux with
    glibc only; a MALLOC_* variable or GLIBC_TUNABLES in the environment wins.
    """
    if not sys.platform.startswith("linux"):
        return False
    if "GLIBC_TUNABLES" in os.environ or any(name.startswith("MALLOC_") for name in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl or another libc: nothing to tune
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(
        mallopt(M_TRIM_THRESHOLD, 2**30)
    )
