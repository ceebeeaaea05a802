"""Waiting in Pilot tests: for the app's work to be done, never for a fixed time."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.worker import WorkerCancelled


async def workers_done(pilot: Pilot[None]) -> None:
    """Wait for every worker. An exclusive worker superseded by a newer one of its group is
    cancelled, as the app means it to be: that is waited past, not raised."""
    while True:
        try:
            await pilot.app.workers.wait_for_complete()
            return
        except WorkerCancelled:
            await pilot.pause()


async def settle(pilot: Pilot[None], rounds: int = 3) -> None:
    """Let the app start what it starts after the first frame (the engine preload, the data
    scan), then wait for every worker and the messages they post; repeated, because finished
    work starts more (the scan's result starts the previews)."""
    for _ in range(rounds):
        await pilot.pause()
        await workers_done(pilot)
    await pilot.pause()
