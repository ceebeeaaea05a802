"""Metric plots: dumb textual-plotext widgets that hold their series and redraw on demand."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

Series = tuple[str, Sequence[float], Sequence[float]]
"""(label, x values, y values)."""
POINT_MARKER = "●"
"""The marker of a series with a single point."""


class MetricPlot(PlotextPlot):
    """A line plot of one metric; ``series`` is what it shows (tests read it)."""

    DEFAULT_CSS = """
    MetricPlot { min-height: 6; min-width: 20; }
    """

    def __init__(
        self,
        title: str,
        *,
        xlabel: str = "epoch",
        id: str | None = None,
        classes: str | None = None,
        ylim: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.plot_title = title
        self.xlabel = xlabel
        self.ylim = ylim
        self.series: list[Series] = []

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def set_series(self, series: Sequence[Series]) -> None:
        """Replace what is shown and redraw."""
        self.series = [(label, list(xs), list(ys)) for label, xs, ys in series]
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(self.plot_title)
        plt.xlabel(self.xlabel)
        drawn = False
        for label, xs, ys in self.series:
            if len(xs):
                # a lone point (one epoch) as braille is a single dot: hard to see
                marker = POINT_MARKER if len(xs) == 1 else "braille"
                plt.plot(list(xs), list(ys), label=label, marker=marker)
                drawn = True
        xs = sorted({x for _, series_xs, _ in self.series for x in series_xs})
        if self.ylim is not None and drawn:
            plt.ylim(*self.ylim)
        elif len(xs) == 1:
            # one epoch: plotext would put the points on the frame, the top one on the legend's
            # row; give them room in the middle
            ys = [float(y) for _, _, series_ys in self.series for y in series_ys]
            low, high = min(ys), max(ys)
            pad = max(high - low, abs(high) * 0.2, 0.05)
            plt.ylim(low - pad, high + pad)
        if len(xs) == 1:
            plt.xlim(xs[0] - 1, xs[0] + 1)
        if xs and all(float(x).is_integer() for x in xs):  # epochs: whole-number ticks only
            step = max(1, round((xs[-1] - xs[0]) / 5))
            plt.xticks(list(range(int(xs[0]), int(xs[-1]) + 1, step)))
        self.refresh()
