"""Comparing runs from the TUI (issue 14, items 1 and 2): a sweep's bad values are refused in
the form, a launched process that fails says so, and a sweep can be exported from the Export
screen like ``workbench --export --run SWEEP``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input, Static

from tests.ui.helpers import settle
from workbench import tui_launch
from workbench.screens.runs import RunsScreen


async def until(pilot, condition: Callable[[], bool], timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``condition()`` holds (polling, never a fixed wait)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await pilot.pause(0.1)


def messages(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(n.message) for n in app._notifications]


# ------------------------------------------------------------------ item 1: bad sweep values


async def test_a_bad_sweep_value_is_refused_in_the_form(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="runs")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await pilot.press("w")
        form = app.screen
        assert form.id == "sweep-form"
        form.query_one("#g-loss", Input).value = "ce,xyz"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form, "the form stays open"
        error = str(form.query_one("#sweep-error", Static).render())
        assert "loss" in error and "xyz" in error and "focal" in error, error
        assert "--grid" not in error and "--" not in error, error
        assert screen.sweep_process is None, "nothing was started"
        assert not any("started" in m for m in messages(app))


async def test_a_launched_process_that_fails_says_why(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="runs", preload=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        code = (
            "import sys; print('loading…'); print('error: loss: must be one of ce, focal');"
            "print(); print('   '); sys.exit(2)"
        )
        log = runs_root / ".tui-logs" / "sweep-x.log"
        process = tui_launch.start_training(
            [sys.executable, "-c", code], runs_root, log_path=log, what="the sweep"
        )
        await asyncio.to_thread(process.wait)
        await until(pilot, lambda: any("must be one of" in m for m in messages(app)))
        shown = next(m for m in messages(app) if "must be one of" in m)
        assert "the sweep" in shown.lower() and "loss: must be one of ce, focal" in shown
        assert "loading" not in shown
        count = len(messages(app))
        app.check_launched()  # reported once
        assert len(messages(app)) == count


async def test_a_launched_process_that_succeeds_or_is_stopped_is_quiet(  # type: ignore[no-untyped-def]
    make_app, runs_root: Path
) -> None:
    app = make_app(start_mode="runs", preload=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        log = runs_root / ".tui-logs" / "ok.log"
        for code in ("print('fine')", "import sys; print('stopped'); sys.exit(130)"):
            process = tui_launch.start_training(
                [sys.executable, "-c", code], runs_root, log_path=log, what="a run"
            )
            await asyncio.to_thread(process.wait)
        app.check_launched()
        assert not any("fine" in m or "stopped" in m for m in messages(app))
