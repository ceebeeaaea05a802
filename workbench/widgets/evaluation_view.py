"""Renderables and widgets for a test evaluation: metrics table, confusion grid, softmax bars,
Grad-CAM overlays.

Pure presentation of what :mod:`workbench.engine.evaluate` computed (a ``TestReport``, an
``Evaluation``): counts, rates, probabilities and Grad-CAM maps come from the engine; here they are
only laid out, coloured and blended with the image for display.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from workbench.widgets.images import ImageWidget, to_pil

if TYPE_CHECKING:
    from workbench.engine.evaluate import TestReport


def metrics_table(report: TestReport) -> Table:
    """Per-class precision, recall, F1 and support, then the macro averages."""
    table = Table(
        title=f"test: accuracy {report.accuracy:.4f}, loss {report.loss:.4f}",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        header_style="bold",
        pad_edge=False,
    )
    for column in ("class", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for row in report.per_class:
        table.add_row(
            row.name, f"{row.precision:.3f}", f"{row.recall:.3f}", f"{row.f1:.3f}", str(row.support)
        )
    table.add_section()
    table.add_row(
        Text("macro", style="bold"),
        f"{report.precision:.3f}",
        f"{report.recall:.3f}",
        f"{report.f1:.3f}",
        str(report.count),
    )
    return table


def _shade(rate: float, diagonal: bool) -> str:
    """A background whose strength follows the row-normalised rate: green right, red wrong."""
    level = round(40 + 170 * max(0.0, min(1.0, rate)))
    if rate <= 0:
        return "dim"
    if diagonal:
        return f"bold white on rgb(0,{level},{level // 3})"
    return f"bold white on rgb({level},{level // 5},{level // 5})"


def confusion_table(report: TestReport) -> Table:
    """The confusion matrix as a coloured grid: count and row % in each cell."""
    table = Table(
        title="confusion matrix: count, row %",
        title_justify="left",
        title_style="bold",
        box=box.SQUARE,
        show_lines=True,
        header_style="bold",
        pad_edge=True,
    )
    table.add_column("true \\ pred", style="bold")
    for name in report.classes:
        table.add_column(name, justify="center")
    table.add_column("total", justify="right", style="dim")
    for i, name in enumerate(report.classes):
        cells: list[Text | str] = [name]
        for j in range(len(report.classes)):
            count = report.confusion[i][j]
            rate = report.confusion_normalized[i][j]
            cells.append(Text(f"{count}\n{100 * rate:.0f}%", style=_shade(rate, i == j)))
        cells.append(str(sum(report.confusion[i])))
        table.add_row(*cells)
    return table


def confused_pairs(report: TestReport, limit: int = 5) -> Text:
    """The most-confused (true → predicted) pairs, most images first."""
    text = Text("most confused: ", style="bold")
    if not report.most_confused:
        text.append("none: every test image is on the diagonal", style="green")
        return text
    for position, pair in enumerate(report.most_confused[:limit]):
        if position:
            text.append(" · ")
        text.append(f"{pair.true} → {pair.predicted} {pair.count} ({100 * pair.rate:.0f}%)")
    return text


def probability_bars(
    probabilities: Sequence[float],
    classes: Sequence[str],
    true: int,
    width: int = 16,
) -> Text:
    """One bar per class: the predicted class's bar green if right, red if wrong; the true class
    name bold."""
    predicted = int(np.argmax(np.asarray(probabilities))) if len(probabilities) else -1
    name_width = min(max((len(c) for c in classes), default=1), 6)
    bar_width = max(width - name_width - 6, 3)
    text = Text(no_wrap=True, overflow="crop")
    for index, (name, p) in enumerate(zip(classes, probabilities, strict=True)):
        if index:
            text.append("\n")
        text.append(f"{name[:name_width]:<{name_width}} ", style="bold" if index == true else "dim")
        filled = round(bar_width * max(0.0, min(1.0, float(p))))
        right = "green" if predicted == true else "red"
        colour = right if index == predicted else "grey50"
        text.append("█" * filled, style=colour)
        text.append("░" * (bar_width - filled), style="grey23")
        text.append(f"{float(p):5.2f}"[-5:])
    return text


def heat_colours(cam: np.ndarray) -> np.ndarray:
    """A jet-like colouring of a [0, 1] map: float (H, W, 3) in [0, 1]."""
    value = np.clip(np.asarray(cam, dtype=np.float32), 0.0, 1.0)[..., None]
    centres = np.array([3.0, 2.0, 1.0], dtype=np.float32)  # red, green, blue
    return np.clip(1.5 - np.abs(4.0 * value - centres), 0.0, 1.0)


def cam_overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The uint8 HWC ``image`` with a Grad-CAM ``cam`` (H, W in [0, 1]) blended over it."""
    base = np.asarray(image, dtype=np.float32)
    heat = heat_colours(cam) * 255.0
    if heat.shape[:2] != base.shape[:2]:
        from PIL import Image as PILImage

        resized = PILImage.fromarray(np.uint8(np.clip(cam, 0, 1) * 255)).resize(
            (base.shape[1], base.shape[0]), PILImage.Resampling.BILINEAR
        )
        heat = heat_colours(np.asarray(resized, dtype=np.float32) / 255.0) * 255.0
    return np.clip((1 - alpha) * base + alpha * heat, 0, 255).astype(np.uint8)


class ScoredThumb(Vertical):
    """A test image, a caption and its softmax bars below."""

    DEFAULT_CSS = """
    ScoredThumb { width: auto; height: auto; margin: 0 1 1 0; }
    ScoredThumb > .scored-image { width: 18; height: 9; }
    ScoredThumb > .scored-caption { width: 18; height: auto; max-height: 2; color: $text-muted; }
    ScoredThumb > .scored-bars { width: 18; height: auto; }
    """

    def __init__(
        self,
        image: np.ndarray,
        caption: str | Text,
        bars: Text | None = None,
        *,
        classes: str | None = None,
    ) -> None:
        super().__init__(classes=classes)
        self.pixels = image
        self.caption = caption
        self.bars = bars

    def compose(self) -> ComposeResult:
        yield ImageWidget(to_pil(self.pixels), classes="scored-image")
        yield Static(self.caption, classes="scored-caption")
        if self.bars is not None:
            yield Static(self.bars, classes="scored-bars")
