"""Every artefact the workbench writes: one public function per artefact.

The TUI's export screen and the headless ``workbench --export`` call the same functions, so a
file looks the same whichever way it was made. Each function takes what the engine computed
(a trace, a report, a run directory) and an output folder, writes atomically
(:mod:`workbench.engine.atomic`) and returns the path(s) it wrote.

Figures are drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas, never through
``pyplot``: no global backend is chosen, no window opens, and threads do not share state.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.engine.atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(width: float, height: float, **kwargs: Any) -> Figure:
    """A matplotlib figure with the Agg canvas attached (matplotlib is imported here)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), **kwargs)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, destination: str | Path, dpi: int = 150) -> Path:
    """Save ``figure`` as PNG to ``destination`` atomically; return the destination."""
    destination = Path(destination)
    with atomic_path(destination) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi, bbox_inches="tight")
    return destination


def format_values(values: tuple[float, ...] | list[float] | None, digits: int = 4) -> str:
    """``[0.1, 0, 0.2, 1]``-style text of a vector (a scalar loses its brackets)."""
    if values is None:
        return "–"
    parts = [f"{value:.{digits}g}" for value in values]
    return parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
