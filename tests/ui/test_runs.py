"""The Runs screen: table of runs, marking and overlaying, opening a run on the Train screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.ui.helpers import settle
from tests.ui.rundirs import write_run
from workbench.config import ModelConfig
from workbench.screens.runs import COLUMNS, RunsScreen
from workbench.widgets.plots import MetricPlot


async def test_table_marks_and_overlay(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    write_run(runs_root / "a-lr1e-3", epochs_done=3, epochs=3, lr=1e-3)
    write_run(runs_root / "b-lr3e-4", epochs_done=2, epochs=4, end="stopped", lr=3e-4)
    # b's config.json as written before the stem, residual and SE fields existed: a plain net.
    config_path = runs_root / "b-lr3e-4" / "config.json"
    document = json.loads(config_path.read_text())
    for name in ("stem", "residual", "squeeze_excite"):
        del document["model"][name]
    config_path.write_text(json.dumps(document))
    app = make_app(start_mode="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 2
        rows = {
            table.get_row_at(i)[1]: dict(zip(COLUMNS, table.get_row_at(i), strict=True))
            for i in range(2)
        }
        assert rows["a-lr1e-3"]["status"] == "finished" and rows["a-lr1e-3"]["best val"] == "0.700"
        assert rows["a-lr1e-3"]["@"] == "3" and rows["a-lr1e-3"]["lr"] == "0.001"
        assert rows["b-lr3e-4"]["status"] == "stopped" and rows["b-lr3e-4"]["epochs"] == "2/4"
        widths = "-".join(map(str, ModelConfig().widths))
        assert rows["a-lr1e-3"]["model"] == f"res s32 {widths} ×2"
        assert rows["b-lr3e-4"]["model"] == f"plain {widths} ×2"
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
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert app.current_mode == "train"
        await pilot.pause()
        tail = app.screen.tail
        assert tail is not None and tail.run_dir.name == "only"


async def test_no_runs_says_how_to_start_one(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one(DataTable).row_count == 0


async def test_sweep_form_refuses_bad_values(make_app) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import Input, Static

    app = make_app(start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        assert app.screen.id == "sweep-form"
        app.screen.query_one("#g-lr", Input).value = "fast,0.1"
        await pilot.press("ctrl+s")
        assert app.screen.id == "sweep-form"
        assert "lr" in str(app.screen.query_one("#sweep-error", Static).render())
        app.screen.query_one("#g-lr", Input).value = "3e-3"
        app.screen.query_one("#g-residual", Input).value = "maybe"
        await pilot.press("ctrl+s")
        assert "residual='maybe' is not on or off" in str(
            app.screen.query_one("#sweep-error", Static).render()
        )
        app.screen.query_one("#g-residual", Input).value = "on, off"
        from workbench.screens.sweep_form import SweepFormScreen

        assert isinstance(app.screen, SweepFormScreen)
        request = app.screen.request()
        assert "residual=on,off" in request.grid and request.runs == 2 * 2  # × loss=ce,focal
        app.screen.query_one("#g-size", Input).value = "100"  # the config's own check
        await pilot.press("ctrl+s")
        assert "size must be one of (64, 128, 256), got 100" in str(
            app.screen.query_one("#sweep-error", Static).render()
        )
        await pilot.press("escape")
        assert app.screen.id == "runs"


@pytest.mark.slow
async def test_sweep_started_here_lists_its_runs(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from textual.widgets import Input

    app = make_app(start_mode="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await pilot.press("w")
        form = app.screen
        form.query_one("#g-lr", Input).value = "0.01,0.02"
        form.query_one("#g-loss", Input).value = ""
        form.query_one("#g-epochs", Input).value = "1"
        await pilot.press("ctrl+s")
        assert screen.sweep_process is not None
        assert await asyncio.to_thread(screen.sweep_process.wait) == 0
        screen.action_refresh()
        await settle(pilot)
        table = screen.query_one(DataTable)
        names = sorted(str(table.get_row_at(i)[1]) for i in range(table.row_count))
        assert len(names) == 2 and all(n.startswith("sweep-") for n in names)
        assert {table.get_row_at(i)[2] for i in range(2)} == {"finished"}


def test_a_run_whose_config_this_version_cannot_read_is_listed_as_unreadable(
    runs_root: Path,
) -> None:
    from workbench.screens.runs import read_run_rows

    write_run(runs_root / "future", epochs_done=1, epochs=1)
    config_path = runs_root / "future" / "config.json"
    document = json.loads(config_path.read_text())
    document["model"]["attention"] = True
    config_path.write_text(json.dumps(document))
    (row,) = read_run_rows(runs_root)
    assert len(row.cells) == len(COLUMNS)
    assert row.cells[1] == "future"
    assert row.cells[2] == "unreadable: config.json: unknown field model.attention"


async def test_runs_are_listed_before_the_engine_has_loaded(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    """Reading run directories needs no torch, so the table does not wait for it."""
    write_run(runs_root / "early", epochs_done=1, epochs=1)
    app = make_app(start_mode="runs", preload=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert not app.engine_ready
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1 and table.get_row_at(0)[1] == "early"
