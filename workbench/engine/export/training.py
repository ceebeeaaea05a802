"""Q3 f artefacts of one run: ``metrics_<name>.png`` for loss, accuracy, precision, recall and
F1 (train and validation per epoch, best epoch marked), and copies of ``train.txt``/``val.txt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.engine.atomic import atomic_write_bytes
from workbench.engine.export import new_figure, save_figure
from workbench.engine.runs import MetricRow, Run

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METRIC_NAMES = ("loss", "accuracy", "precision", "recall", "f1")
METRIC_TITLES = {
    "loss": "loss",
    "accuracy": "accuracy",
    "precision": "precision (macro)",
    "recall": "recall (macro)",
    "f1": "F1 (macro)",
}
METRIC_FILES = ("train.txt", "val.txt")


def metrics_png(name: str) -> str:
    return f"metrics_{name}.png"


def best_epoch(val: list[MetricRow]) -> int:
    """The epoch best.pt holds: highest validation accuracy, ties broken by lower loss."""
    if not val:
        return 0
    best = max(val, key=lambda row: (row.accuracy, -row.loss, -row.epoch))
    return best.epoch


def metric_figure(run: Run, name: str) -> Figure:
    """Train and validation ``name`` per epoch (one of :data:`METRIC_NAMES`), the epoch of
    ``best.pt`` marked."""
    if name not in METRIC_NAMES:
        raise ValueError(f"metric must be one of {METRIC_NAMES}, got {name!r}")
    train, val = run.metrics("train"), run.metrics("val")
    best = best_epoch(val)
    figure = new_figure(6.4, 4.0)
    ax = figure.subplots()
    for rows, label, colour in ((train, "train", "#1f77b4"), (val, "validation", "#d62728")):
        if rows:
            ax.plot(
                [r.epoch for r in rows],
                [getattr(r, name) for r in rows],
                marker="o",
                markersize=3,
                label=label,
                color=colour,
            )
    if best:
        row = next(r for r in val if r.epoch == best)
        value = getattr(row, name)
        ax.axvline(best, color="#555555", linestyle="--", linewidth=0.8)
        ax.plot([best], [value], marker="*", markersize=12, color="#d62728", zorder=5)
        ax.annotate(
            f"best.pt: epoch {best} (top val accuracy)\nval {name} {value:.3f}",
            (best, value),
            textcoords="offset points",
            xytext=(6, 8 if name != "loss" else -24),
            fontsize=8,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.85, "lw": 0},
        )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(METRIC_TITLES[name])
    if name != "loss":
        ax.set_ylim(0, 1.02)
    ax.set_title(f"{METRIC_TITLES[name]} per epoch, run {run.id}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figure


def write_metric_plot(run: Run, name: str, out_dir: str | Path) -> Path:
    """``metrics_<name>.png``: :func:`metric_figure`."""
    return save_figure(metric_figure(run, name), Path(out_dir) / metrics_png(name), dpi=120)


def copy_metric_files(run: Run, out_dir: str | Path) -> list[Path]:
    """Byte-for-byte copies of the run's ``metrics/train.txt`` and ``metrics/val.txt``."""
    written = []
    for split, name in zip(("train", "val"), METRIC_FILES, strict=True):
        source = run.metrics_path(split)
        if source.exists():
            written.append(atomic_write_bytes(Path(out_dir) / name, source.read_bytes()))
    return written


def write_training_artefacts(run: Run, out_dir: str | Path) -> list[Path]:
    """Every metric plot and both metric files."""
    plots = [write_metric_plot(run, name, out_dir) for name in METRIC_NAMES]
    return plots + copy_metric_files(run, out_dir)
