"""Waiting in Pilot tests: for the app's work to be done, never for a fixed time."""

from __future__ import annotations

from textual.pilot import Pilot


async def settle(pilot: Pilot[None], rounds: int = 3) -> None:
    """Let the app start what it starts after the first frame (the engine preload, the data
    scan), then wait for every worker and the messages they post; repeated, because finished
    work starts more (the scan's result starts the previews)."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()
