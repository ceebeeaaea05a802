"""The test evaluation as rich renderables: the metrics table, the coloured confusion grid and
the most-confused pairs and softmax bars. ``workbench eval`` and ``predict`` print them; the
Evaluate and Demo screens show them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from rich import box
from rich.table import Table
from rich.text import Text

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
    true: int | None,
    width: int = 16,
) -> Text:
    """One bar per class: the predicted class's bar green if right, red if wrong (cyan when the
    true class is unknown, ``true`` None); the true class name bold."""
    predicted = int(np.argmax(np.asarray(probabilities))) if len(probabilities) else -1
    name_width = min(max((len(c) for c in classes), default=1), 6)
    bar_width = max(width - name_width - 6, 3)
    text = Text(no_wrap=True, overflow="crop")
    for index, (name, p) in enumerate(zip(classes, probabilities, strict=True)):
        if index:
            text.append("\n")
        text.append(f"{name[:name_width]:<{name_width}} ", style="bold" if index == true else "dim")
        filled = round(bar_width * max(0.0, min(1.0, float(p))))
        right = "cyan" if true is None else "green" if predicted == true else "red"
        colour = right if index == predicted else "grey50"
        text.append("█" * filled, style=colour)
        text.append("░" * (bar_width - filled), style="grey23")
        text.append(f"{float(p):5.2f}"[-5:])
    return text
