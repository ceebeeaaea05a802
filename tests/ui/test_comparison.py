"""Comparing runs from the TUI (issue 14, items 1 and 2): a sweep's bad values are refused in
the form, a launched process that fails says so, and a sweep can be exported from the Export
screen like ``workbench --export --run SWEEP``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input, Static

from tests.ui.helpers import settle
from tests.ui.rundirs import write_run
from workbench import tui_launch
from workbench.config import RunConfig
from workbench.screens.export import ExportScreen
from workbench.screens.runs import RunsScreen
from workbench.widgets.run_picker import RunPicker


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


# ------------------------------------------------------------------ item 2: sweeps on Export


def write_sweep(root: Path) -> Path:
    """A two-run sweep folder (lr=0.001,0.002) whose second run is the better one."""
    folder = root / "sweep-abc"
    folder.mkdir(parents=True)
    names = ["01-lr=0.001", "02-lr=0.002"]
    document = {
        "grid": ["lr=0.001,0.002"],
        "base": RunConfig().to_dict(),
        "runs": [{"name": n, "params": {"lr": n.split("=")[1]}} for n in names],
    }
    (folder / "sweep.json").write_text(json.dumps(document))
    write_run(folder / names[0], epochs_done=2, epochs=3, lr=1e-3)
    write_run(folder / names[1], epochs_done=3, epochs=3, lr=2e-3)
    for name in names:  # listed by the pickers (never loaded here)
        (folder / name / "checkpoints").mkdir(exist_ok=True)
        (folder / name / "checkpoints" / "best.pt").touch()
    return folder


def test_one_rule_names_a_sweeps_run(tmp_path: Path) -> None:
    """The engine's rule, which the CLI and the Export screen both call."""
    from workbench.engine.sweep import export_target

    folder = write_sweep(tmp_path / "runs")
    assert export_target(folder) == (folder / "02-lr=0.002", folder)
    inside = folder / "01-lr=0.001"
    assert export_target(inside) == (inside, folder)
    plain = write_run(tmp_path / "runs" / "plain")
    assert export_target(plain) == (plain, None)


async def test_export_picker_offers_a_sweep_and_exports_from_it(  # type: ignore[no-untyped-def]
    make_app, runs_root: Path
) -> None:
    folder = write_sweep(runs_root)
    app = make_app(start_mode="export")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        picker = screen.query_one(RunPicker)
        options = {str(value): str(label) for label, value in picker._options}
        assert options.get(str(folder)) == "sweep-abc (sweep, 2 runs)", options
        picker.value = str(folder)
        await settle(pilot)
        assert screen.query_one("#ex-out", Input).value.endswith("sweep-abc")
        reasons = {c.name: c.reason for c in screen.choices}
        assert reasons["sweep"] is None, reasons
        assert reasons["metrics"] is None  # the sweep's best run stands for it
        # a run inside the sweep brings the sweep's figures too
        picker.value = str(folder / "01-lr=0.001")
        await settle(pilot)
        assert {c.name: c.reason for c in screen.choices}["sweep"] is None


def test_export_sources_of_a_sweep_are_the_clis(tmp_path: Path) -> None:
    from workbench.screens.export import build_sources

    folder = write_sweep(tmp_path / "runs")
    sources = build_sources(str(folder), None, None)
    assert sources.sweep == folder
    assert sources.run is not None and sources.run.path == folder / "02-lr=0.002"


def test_find_sweeps_lists_sweep_folders_with_their_size(tmp_path: Path) -> None:
    from workbench.engine.run_query import find_sweeps

    folder = write_sweep(tmp_path / "runs")
    [listed] = find_sweeps(tmp_path / "runs")
    assert (listed.path, listed.runs, listed.label) == (folder, 2, "sweep-abc (sweep, 2 runs)")
    (folder / "sweep.json").write_text("{")  # a damaged sweep is left out, not a crash
    assert find_sweeps(tmp_path / "runs") == []
