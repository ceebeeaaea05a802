"""Run a picklable function over chunks of work on every core, reporting progress per chunk."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from workbench.engine.progress import ProgressFn, report

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_MIN_ITEMS = 256
"""Below this many items the work runs in this process: starting workers would cost more."""
MAX_WORKERS = 16


def cpu_count() -> int:
    """Cores this process may use (respects affinity masks and container CPU sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def map_chunks(
    fn: Callable[[Sequence[T]], R],
    items: Sequence[T],
    *,
    chunk_size: int = 64,
    task: str,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> list[R]:
    """``[fn(chunk) for chunk in chunks(items)]`` in order, on a process pool when it pays.

    ``fn`` must be a module-level function (it is pickled to spawned workers, which import only
    the engine, not the caller's main module state).
    """
    total = len(items)
    report(progress, task, 0, total)
    workers = min(workers or cpu_count(), MAX_WORKERS)
    # Several chunks per worker balance the load and keep the progress bar moving.
    chunk_size = max(1, min(chunk_size, -(-total // (workers * 4))))
    chunks = [items[i : i + chunk_size] for i in range(0, total, chunk_size)]
    workers = min(workers, len(chunks))
    results: list[R] = []
    done = 0
    if workers <= 1 or total < PARALLEL_MIN_ITEMS:
        for chunk in chunks:
            results.append(fn(chunk))
            done += len(chunk)
            report(progress, task, done, total)
        return results
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
        for chunk, result in zip(chunks, executor.map(fn, chunks), strict=True):
            results.append(result)
            done += len(chunk)
            report(progress, task, done, total)
    return results
