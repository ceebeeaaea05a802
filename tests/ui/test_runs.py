"""The Runs screen: table of runs, marking and overlaying, opening a run on the Train screen."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from tests.ui.rundirs import write_run
from workbench.screens.runs import RunsScreen
from workbench.widgets.plots import MetricPlot


async def test_table_marks_and_overlay(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    write_run(runs_root / "a-lr1e-3", epochs_done=3, epochs=3, lr=1e-3)
    write_run(runs_root / "b-lr3e-4", epochs_done=2, epochs=4, end="stopped", lr=3e-4)
    app = make_app(start_mode="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 2
        rows = {table.get_row_at(i)[1]: table.get_row_at(i) for i in range(2)}
        assert rows["a-lr1e-3"][2] == "finished" and rows["a-lr1e-3"][9] == "0.700"
        assert rows["a-lr1e-3"][10] == "3" and rows["a-lr1e-3"][6] == "0.001"
        assert rows["b-lr3e-4"][2] == "stopped" and rows["b-lr3e-4"][5] == "2/4"
        await pilot.press("space")
        await pilot.press("down", "space")
        overlay = screen.query_one("#overlay-accuracy", MetricPlot)
        assert sorted(label for label, _, _ in overlay.series) == ["a-lr1e-3", "b-lr3e-4"]
        assert sorted(len(xs) for _, xs, _ in overlay.series) == [2, 3]
        await pilot.press("c")
        assert overlay.series == []


async def test_enter_opens_run_on_train_screen(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    write_run(runs_root / "only", epochs_done=2, epochs=2)
    app = make_app(start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "train"
        await pilot.pause()
        tail = app.screen.tail
        assert tail is not None and tail.run_dir.name == "only"


async def test_no_runs_says_how_to_start_one(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query_one(DataTable).row_count == 0
