"""The plot of o(1−o) against net (Q2), with the current point marked; a dumb plotext widget."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot


class SlopePlot(PlotextPlot):
    """σ'(net) = o(1 − o) against net, and one marked point; ``point`` is what it marks."""

    DEFAULT_CSS = """
    SlopePlot { min-height: 8; min-width: 24; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.net: list[float] = []
        self.slope: list[float] = []
        self.point: tuple[float, float] | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def set_data(
        self, net: Sequence[float], slope: Sequence[float], point: tuple[float, float] | None
    ) -> None:
        """Replace the curve and the marked point, and redraw."""
        self.net, self.slope, self.point = list(net), list(slope), point
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title("o(1−o) = σ'(net): at most 1/4, at net = 0")
        plt.xlabel("net1")
        if self.net:
            plt.plot(self.net, self.slope, marker="braille", label="o(1−o)")
        if self.point is not None:
            x, y = self.point
            plt.scatter([x], [y], marker="●", color="red", label=f"net1 = {x:g}: {y:.3g}")
            plt.vline(x, color="red")
        plt.ylim(0, 0.27)
        self.refresh()
