"""Metric plots in the TUI: a run of one epoch still shows its points."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region

from workbench.widgets.plots import POINT_MARKER, MetricPlot


class PlotApp(App[None]):
    def compose(self) -> ComposeResult:
        yield MetricPlot("accuracy")


async def test_a_single_epoch_is_a_visible_point_off_the_legend() -> None:
    app = PlotApp()
    async with app.run_test(size=(50, 14)) as pilot:
        plot = app.query_one(MetricPlot)
        plot.set_series([("train", [1], [0.5]), ("val", [1], [0.62])])
        await pilot.pause()
        rows = [strip.text for strip in plot.render_lines(Region(0, 0, *plot.size))]
    legend = [i for i, row in enumerate(rows) if " train" in row or " val" in row]
    assert len(legend) == 2
    points = [i for i, row in enumerate(rows) if i not in legend and POINT_MARKER in row]
    # one marker per series, on rows of their own: neither on the legend nor on each other
    assert len(points) == 2, rows
    assert all(rows[i].count(POINT_MARKER) == 1 for i in points)
    assert all("┌" not in rows[i - 1] for i in points), rows  # not squeezed on the frame
