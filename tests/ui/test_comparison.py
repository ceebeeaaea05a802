"""Comparing runs from the TUI (issue 14, items 1 and 2): a sweep's bad values are refused in
the form, a launched process that fails says so, and a sweep can be exported from the Export
screen like ``workbench --export --run SWEEP``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
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
        quiet = ("print('all-good-output')", "import sys; print('by-signal-output'); sys.exit(130)")
        for code in quiet:
            process = tui_launch.start_training(
                [sys.executable, "-c", code], runs_root, log_path=log, what="a run"
            )
            await asyncio.to_thread(process.wait)
        app.check_launched()
        assert not any("all-good" in m or "by-signal" in m for m in messages(app))


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


# ------------------------------------------------------------------ the whole comparison flow


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_two_loss_sweep_from_runs_then_loss_comparison_from_export(  # type: ignore[no-untyped-def]
    make_app, runs_root: Path, tmp_path: Path
) -> None:
    """Runs → w → loss ce,focal, 1 epoch at 64 px → wait for the sweep process → Export → pick
    the sweep → export loss_comparison → the PNG and the CSV of both losses are there."""
    import csv

    from textual.widgets import SelectionList

    out = tmp_path / "out"
    app = make_app(start_mode="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        runs = app.screen
        assert isinstance(runs, RunsScreen)
        await pilot.press("w")
        form = app.screen
        values = {"lr": "", "loss": "ce,focal", "batch-size": "16", "epochs": "1", "size": "64"}
        for name, value in values.items():
            form.query_one(f"#g-{name}", Input).value = value
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is runs and any("Sweep of 2 runs" in m for m in messages(app))
        process = runs.sweep_process
        assert process is not None
        await until(pilot, lambda: process.poll() is not None, timeout=90)
        logs = runs_root / ".tui-logs"
        assert process.returncode == 0, "".join(p.read_text() for p in logs.iterdir())
        [folder] = [p for p in runs_root.iterdir() if p.name.startswith("sweep-")]

        await pilot.press("7")
        await settle(pilot)
        export = app.screen
        assert isinstance(export, ExportScreen)
        await pilot.press("o")  # the picker opens on the first entry after "no run": the sweep
        await pilot.press("enter")
        await settle(pilot)
        assert export.run_path == str(folder)
        await until(pilot, lambda: bool(export.choices))
        reasons = {c.name: c.reason for c in export.choices}
        assert reasons["loss_comparison"] is None and reasons["sweep"] is None, reasons
        await pilot.press("n")
        export.query_one("#ex-list", SelectionList).select("loss_comparison")
        export.query_one("#ex-out", Input).value = str(out)
        await pilot.press("x")
        await until(pilot, lambda: export.last_result is not None, timeout=60)
        assert (out / "loss_comparison.png").stat().st_size > 0
        with open(out / "loss_comparison.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert sorted(row["loss"] for row in rows) == ["ce", "focal"]
