"""Figure details of the exports that a glance at the PNG would catch: epoch ticks of a
one-epoch sweep, the size and place of the softmax numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.engine.export.sweep import LossRun, loss_comparison_figure, sweep_figure
from workbench.engine.runs import MetricRow
from workbench.engine.sweep import Grid, SweepRow, SweepSummary


def _rows(epochs: int, accuracy: float) -> list[MetricRow]:
    return [
        MetricRow(
            epoch=e,
            loss=1.0 / e,
            accuracy=accuracy,
            precision=0.5,
            recall=0.5,
            f1=0.5,
            lr=1e-3,
            seconds=1.0,
        )
        for e in range(1, epochs + 1)
    ]


def _epoch_ticks(axes) -> list[float]:  # type: ignore[no-untyped-def]
    """The epoch ticks shown (inside the axis' range)."""
    low, high = axes.get_xlim()
    return [t for t in axes.get_xticks() if low - 1e-9 <= t <= high + 1e-9]


@pytest.mark.parametrize("epochs", [1, 2, 7])
def test_sweep_epoch_ticks_are_whole_numbers(epochs: int) -> None:
    grid = Grid((("loss", ("ce", "focal")),))
    rows = [
        SweepRow(
            f"loss-{loss}",
            {"loss": loss},
            Path(loss),
            "finished",
            epochs,
            1,
            acc,
            0.9,
            _rows(epochs, acc),
        )
        for loss, acc in (("ce", 0.6), ("focal", 0.7))
    ]
    figures = [
        sweep_figure(SweepSummary(Path("sweep"), grid, rows), "loss"),
        loss_comparison_figure(
            [LossRun(r.params["loss"], r.name, r.val, r.best_val_accuracy) for r in rows]
        ),
    ]
    for figure in figures:
        for axes in figure.axes:
            if axes.get_xlabel() != "epoch":
                continue
            ticks = _epoch_ticks(axes)
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
            assert set(range(1, epochs + 1)) >= {int(t) for t in ticks if t >= 1}
