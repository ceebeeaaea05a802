"""Q2's plots: o(1−o) against net (plotext) and the |Δw11| map over (net1, x1) (text), each
with the current point marked. Dumb widgets: the numbers come from the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import Static
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


SHADES = " ·░▒▓█"


def delta_map_text(
    net1: Sequence[float],
    x1: Sequence[float],
    values: Sequence[Sequence[float]],
    point: tuple[float, float] | None,
    rows: int,
) -> Text:
    """|Δw11| over (net1 across, x1 up) as shaded characters, ``●`` at ``point`` (net1, x1).

    ``values[i][j]`` is at ``net1[j]``, ``x1[i]`` (the engine's DeltaMap); ``rows`` rows of it are
    shown, picked evenly, top row the largest x1.
    """
    top = max((max(row) for row in values), default=0.0) or 1.0
    count = len(x1)
    picks = sorted({round(i * (count - 1) / max(rows - 1, 1)) for i in range(rows)}, reverse=True)
    marked_row = marked_col = -1
    if point is not None:
        net, x = point
        marked_col = min(range(len(net1)), key=lambda j: abs(net1[j] - net))
        marked_row = min(picks, key=lambda i: abs(x1[i] - x))
    text = Text(no_wrap=True, overflow="crop")
    for i in picks:
        text.append(f"{x1[i]:>5.1f} ", style="dim")
        for j, value in enumerate(values[i]):
            if i == marked_row and j == marked_col:
                text.append("●", style="bold red")
                continue
            level = min(len(SHADES) - 1, int(len(SHADES) * value / top))
            text.append(SHADES[level], style="yellow")
        text.append("\n")
    width = len(net1)
    axis = f"{net1[0]:g}".ljust(width // 2) + f"{net1[width // 2]:g}"
    text.append(" " * 6 + axis.ljust(width - len(f"{net1[-1]:g}")) + f"{net1[-1]:g}", style="dim")
    text.append("\n" + " " * 6 + "net1 →   (x1 up; █ large |Δw11|, blank ≈ 0; ● now)", style="dim")
    return text


class DeltaMap(Static):
    """The |Δw11| map over (net1, x1) for the current t1 and η, the current point marked."""

    DEFAULT_CSS = """
    DeltaMap { height: 1fr; min-height: 8; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.data: tuple[Any, tuple[float, float] | None] | None = None

    def set_data(self, delta_map: Any, point: tuple[float, float] | None) -> None:
        """Show an engine ``DeltaMap`` with ``point`` = (net1, x1) marked."""
        self.data = (delta_map, point)
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if self.data is None:
            return
        delta_map, point = self.data
        rows = max(self.size.height - 3, 3)
        title = Text(f"|Δw11| for t1 = {delta_map.t1:g}, η = {delta_map.eta:g}\n", style="bold")
        body = delta_map_text(delta_map.net1, delta_map.x1, delta_map.values, point, rows)
        self.update(title + body)
