"""Run a picklable function over chunks of work on every core, reporting progress per chunk."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from workbench.engine.progress import ProgressFn, report

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_MIN_ITEMS = 256
"""Below this many items the work runs in this process: starting workers would cost more."""
MAX_WORKERS = 16
WORKER_NICENESS = 5
"""How much lower the pool's workers run than the process that started them: decoding a data set
on every core must not starve that process (the TUI repaints from it while the cache builds)."""


def cpu_count() -> int:
    """Cores this process may use (respects affinity masks and container CPU sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _lower_priority() -> None:
    """Run this worker process at a lower priority (a no-op where nice is not available)."""
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)


def imap_chunks(
    fn: Callable[[Sequence[T]], R],
    items: Sequence[T],
    *,
    chunk_size: int = 64,
    task: str,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> Iterator[tuple[int, R]]:
    """Yield ``(start, fn(items[start:start + k]))`` for consecutive chunks, in order.

    Runs on a process pool when there is enough work to pay for starting it. ``fn`` must be a
    module-level function (or a partial of one) in a module that does not import torch: it is
    pickled to spawned workers, which import its module afresh.
    """
    total = len(items)
    report(progress, task, 0, total)
    workers = min(workers or cpu_count(), MAX_WORKERS)
    # Several chunks per worker balance the load and keep the progress bar moving.
    chunk_size = max(1, min(chunk_size, -(-total // (workers * 4))))
    starts = list(range(0, total, chunk_size))
    chunks = [items[i : i + chunk_size] for i in starts]
    workers = min(workers, len(chunks))
    done = 0
    if workers <= 1 or total < PARALLEL_MIN_ITEMS:
        for start, chunk in zip(starts, chunks, strict=True):
            result = fn(chunk)
            done += len(chunk)
            report(progress, task, done, total)
            yield start, result
        return
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_lower_priority
    )
    try:
        results = executor.map(fn, chunks)
        for start, chunk, result in zip(starts, chunks, results, strict=True):
            done += len(chunk)
            report(progress, task, done, total)
            yield start, result
    except BaseException:
        # Ctrl-C, an error, or a consumer that stopped early: the chunks not started are
        # dropped, so the scan ends now (leaving the ``with`` block would wait for all of them).
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def map_chunks(
    fn: Callable[[Sequence[T]], R],
    items: Sequence[T],
    *,
    chunk_size: int = 64,
    task: str,
    progress: ProgressFn | None = None,
    workers: int | None = None,
) -> list[R]:
    """``[fn(chunk) for chunk in chunks(items)]``, in order (see :func:`imap_chunks`)."""
    return [
        result
        for _, result in imap_chunks(
            fn, items, chunk_size=chunk_size, task=task, progress=progress, workers=workers
        )
    ]
