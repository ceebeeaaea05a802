"""The Evaluate screen on a tiny trained run: confusion counts, grids, the misclassified gallery."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static, TabbedContent

from tests.ui.helpers import workers_done
from workbench.screens.evaluate import EvaluateScreen
from workbench.widgets.evaluation_view import ScoredThumb
from workbench.widgets.images import Thumb

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tiny_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run trained for 2 epochs on the tiny image folder (a few seconds on a CPU)."""
    import torch

    from workbench.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from workbench.engine.data import prepare_data
    from workbench.engine.loop import fit

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("eval-runs")
    config = RunConfig(
        data=DataConfig(
            data=str(tiny_images), image_size=64, cache_dir=str(root / "cache"), augment="none"
        ),
        model=ModelConfig(widths=(8, 16), convs_per_stage=1, dropout=0.0, stem=8),
        train=TrainConfig(
            epochs=2, batch_size=8, lr=3e-3, device="cpu", num_workers=0, warmup_epochs=1
        ),
    ).validate()
    run_dir = root / "runs" / "tiny-run"
    result = fit(config, prepare_data(config.data), run_dir)
    assert result.state == "finished"
    return run_dir


def _text(widget: Static) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


async def test_confusion_counts_match_the_engine(make_app, tiny_run: Path) -> None:  # type: ignore[no-untyped-def]
    from workbench.engine.evaluate import evaluate_source

    expected = evaluate_source(tiny_run, explained=0).report
    app = make_app(start_mode="evaluate", runs_root=tiny_run.parent, preload=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, EvaluateScreen)
        screen.open_source(str(tiny_run))
        await workers_done(pilot)
        await pilot.pause()
        assert screen.evaluation is not None
        report = screen.evaluation.report
        assert report.confusion == expected.confusion
        assert report.count == expected.count
        grid = _text(screen.query_one("#ev-confusion", Static))
        for i, name in enumerate(report.classes):
            line = next(row for row in grid.splitlines() if row.strip("│ ").startswith(name))
            counts = [int(cell) for cell in line.replace("│", " ").split()[1:-1]]
            assert counts == expected.confusion[i], (name, counts)
        metrics = _text(screen.query_one("#ev-metrics", Static))
        assert f"accuracy {expected.accuracy:.4f}" in metrics
        # first 10 per class (fewer exist here) and the random grid with bars
        first = screen.query_one("#ev-first").query(Thumb)
        assert len(first) == expected.count
        await pilot.press("p")
        assert screen.query_one(TabbedContent).active == "ev-tab-random"
        before = [t.caption for t in screen.query_one("#ev-random").query(ScoredThumb)]
        assert before
        await pilot.press("n")
        await workers_done(pilot)
        await pilot.pause()
        assert screen.seed == 1
        # the misclassified gallery steps with the arrow keys
        await pilot.press("w")
        await workers_done(pilot)
        await pilot.pause()
        wrong = screen.evaluation.misclassified
        title = _text(screen.query_one("#ev-wrong-title", Static))
        if wrong:
            assert f"1/{len(wrong)}" in title
            await pilot.press("right")
            await workers_done(pilot)
            await pilot.pause()
            assert screen.wrong_index == min(1, len(wrong) - 1)
            assert len(screen.query_one("#ev-wrong-images").query(ScoredThumb)) == 3
        else:
            assert "no misclassified" in title


async def test_bad_checkpoint_is_a_notification(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    app = make_app(start_mode="evaluate", preload=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, EvaluateScreen)
        screen.open_source(str(bogus))
        await workers_done(pilot)
        await pilot.pause()
        assert screen.evaluation is None
        assert app.is_running
        messages = [str(n.message) for n in app._notifications]
        assert any("bogus.pt" in m for m in messages), messages


async def test_picking_a_run_highlights_the_newest(make_app, tiny_run: Path) -> None:  # type: ignore[no-untyped-def]
    """`o` opens the run list on the newest run, not on the blank prompt (through the
    Select's public drop-down, an OptionList)."""
    from textual.widgets import OptionList, Select

    app = make_app(start_mode="evaluate", runs_root=tiny_run.parent, preload=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.action_reload()
        await workers_done(pilot)
        await pilot.pause()
        await pilot.press("o")
        await pilot.pause()
        select = screen.query_one("#ev-run", Select)
        overlay = select.query_one(OptionList)
        assert overlay.highlighted == 1
        await pilot.press("enter")
        await workers_done(pilot)
        await pilot.pause()
        assert select.value == str(tiny_run)
