"""The decode pool: every item once and in order, on workers that yield the CPU to their parent."""

from __future__ import annotations

import os

from tests.support.pool_probe import niceness
from workbench.engine.pool import PARALLEL_MIN_ITEMS, WORKER_NICENESS, imap_chunks


def test_workers_run_below_the_process_that_started_them() -> None:
    items = list(range(PARALLEL_MIN_ITEMS))
    results = list(imap_chunks(niceness, items, task="probe", workers=2))
    assert [start for start, _ in results] == sorted(start for start, _ in results)
    parent = os.nice(0)
    assert {value for _, value in results} == {min(parent + WORKER_NICENESS, 19)}
