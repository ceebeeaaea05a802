"""Q3 f and k artefacts of several runs: ``sweep_<hyper-parameter>.png``, ``sweep_summary.txt``
and ``loss_comparison.png`` (+ ``.csv``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.engine.atomic import atomic_write_text
from workbench.engine.export import new_figure, save_figure
from workbench.engine.runs import MetricRow
from workbench.engine.sweep import SweepSummary, grid_params

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SUMMARY_TXT = "sweep_summary.txt"
LOSS_PNG = "loss_comparison.png"
LOSS_CSV = "loss_comparison.csv"


def sweep_png(name: str) -> str:
    return f"sweep_{name}.png"


def _numeric(name: str) -> bool:
    param = grid_params().get(name)
    return param is not None and param.annotation in ("int", "float")


def _whole_epochs(axes: Axes) -> None:
    """Epoch ticks at whole numbers only. ``MaxNLocator(integer=True)`` alone wants two ticks,
    and a one-epoch run's axis (0.95 to 1.05) holds one integer, so it fell back to
    0.945, 0.96, …; one tick is enough."""
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def summary_text(summary: SweepSummary) -> str:
    """A table of every run: parameters, state, epochs, best validation accuracy and loss."""
    names = summary.grid.names
    header = ["run", *names, "state", "epochs", "best epoch", "best val acc", "val loss"]
    body = []
    for row in summary.rows:
        body.append(
            [
                row.name,
                *(row.params[n] for n in names),
                row.state,
                str(row.epochs_done),
                str(row.best_epoch or "-"),
                f"{row.best_val_accuracy:.4f}" if row.best_val_accuracy is not None else "-",
                f"{row.best_val_loss:.4f}" if row.best_val_loss is not None else "-",
            ]
        )
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [
        f"Sweep {summary.root.name}: {' '.join(summary.grid.to_text())}",
        "",
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    best = summary.best
    lines.append("")
    if best is not None:
        shown = " ".join(f"{k}={v}" for k, v in best.params.items())
        lines.append(
            f"best: {best.name} ({shown}) val accuracy {best.best_val_accuracy:.4f} "
            f"at epoch {best.best_epoch}"
        )
    else:
        lines.append("best: none yet (no run has finished an epoch)")
    return "\n".join(lines) + "\n"


def write_sweep_summary(summary: SweepSummary, out_dir: str | Path) -> Path:
    return atomic_write_text(Path(out_dir) / SUMMARY_TXT, summary_text(summary))


def sweep_figure(summary: SweepSummary, name: str) -> Figure:
    """Validation accuracy curves of every run coloured by the value of hyper-parameter
    ``name``, and each run's best validation accuracy against that value."""
    values = dict(summary.grid.axes)[name]
    numeric = _numeric(name)
    order = sorted(values, key=float) if numeric else list(values)
    figure = new_figure(11, 4.2)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
    from matplotlib import colormaps

    cmap = colormaps["viridis" if numeric else "tab10"]
    colour = {
        v: cmap(i / max(len(order) - 1, 1) if numeric else i % 10) for i, v in enumerate(order)
    }
    drawn: set[str] = set()
    for row in summary.rows:
        if not row.val:
            continue
        value = row.params[name]
        others = " ".join(f"{k}={v}" for k, v in row.params.items() if k != name)
        left.plot(
            [r.epoch for r in row.val],
            [r.accuracy for r in row.val],
            color=colour[value],
            alpha=0.85,
            linewidth=1.3,
            marker="o",
            markersize=3,
            label=f"{name}={value}" if value not in drawn else None,
        )
        drawn.add(value)
        x = order.index(value)
        right.scatter([x], [row.best_val_accuracy], color=colour[value], s=40, zorder=3)
        if others:
            right.annotate(
                others, (x, row.best_val_accuracy or 0.0), fontsize=6, xytext=(5, 0),
                textcoords="offset points",
            )  # fmt: skip
    means = []
    for value in order:
        accs = [
            r.best_val_accuracy
            for r in summary.rows
            if r.params[name] == value and r.best_val_accuracy is not None
        ]
        means.append(sum(accs) / len(accs) if accs else float("nan"))
    right.plot(range(len(order)), means, color="#555555", linestyle="--", label="mean over runs")
    _whole_epochs(left)
    left.set_ylim(0, 1.02)
    right.set_ylim(0, 1.02)
    left.set_xlabel("epoch")
    left.set_ylabel("validation accuracy")
    left.set_title(f"validation accuracy per epoch, coloured by {name}", fontsize=10)
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    right.set_xticks(range(len(order)))
    right.set_xticklabels(order)
    right.set_xlabel(name)
    right.set_ylabel("best validation accuracy")
    right.set_title(f"best validation accuracy against {name}", fontsize=10)
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    figure.tight_layout()
    return figure


def write_sweep_plot(summary: SweepSummary, name: str, out_dir: str | Path) -> Path:
    """``sweep_<name>.png``: :func:`sweep_figure`."""
    return save_figure(sweep_figure(summary, name), Path(out_dir) / sweep_png(name), dpi=120)


def write_sweep_artefacts(summary: SweepSummary, out_dir: str | Path) -> list[Path]:
    """``sweep_<name>.png`` for every varied hyper-parameter and ``sweep_summary.txt``."""
    plots = [write_sweep_plot(summary, name, out_dir) for name in summary.varied]
    return [*plots, write_sweep_summary(summary, out_dir)]


@dataclass(frozen=True)
class LossRun:
    """One run of the loss comparison: its loss, validation history and test accuracy."""

    loss: str
    run_id: str
    val: list[MetricRow]
    test_accuracy: float | None


def loss_comparison_figure(runs: Sequence[LossRun]) -> Figure:
    """Validation accuracy and loss curves per loss, and test accuracy side by side."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    figure = new_figure(14, 4.2)
    acc_ax, loss_ax, bar_ax = figure.subplots(1, 3, gridspec_kw={"width_ratios": [1.3, 1.3, 1]})
    for i, run in enumerate(runs):
        epochs = [r.epoch for r in run.val]
        style = {"color": cmap(i % 10), "label": run.loss, "marker": "o", "markersize": 3}
        acc_ax.plot(epochs, [r.accuracy for r in run.val], **style)
        loss_ax.plot(epochs, [r.loss for r in run.val], **style)
    for ax in (acc_ax, loss_ax):
        _whole_epochs(ax)
    acc_ax.set_ylim(0, 1.02)
    acc_ax.set_title("validation accuracy per epoch", fontsize=10)
    acc_ax.set_xlabel("epoch")
    acc_ax.grid(alpha=0.3)
    acc_ax.legend(fontsize=8)
    loss_ax.set_title("validation loss per epoch (each its own loss: scales differ)", fontsize=9)
    loss_ax.set_xlabel("epoch")
    loss_ax.grid(alpha=0.3)
    accs = [run.test_accuracy if run.test_accuracy is not None else 0.0 for run in runs]
    bars = bar_ax.bar(range(len(runs)), accs, color=[cmap(i % 10) for i in range(len(runs))])
    for bar, run in zip(bars, runs, strict=True):
        text = f"{run.test_accuracy:.3f}" if run.test_accuracy is not None else "n/a"
        bar_ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.01, text, ha="center")
    bar_ax.set_xticks(range(len(runs)))
    bar_ax.set_xticklabels([run.loss for run in runs])
    bar_ax.set_ylim(0, 1.08)
    bar_ax.set_title("test accuracy (best checkpoint)", fontsize=10)
    figure.tight_layout()
    return figure


def write_loss_comparison(runs: Sequence[LossRun], out_dir: str | Path) -> list[Path]:
    """``loss_comparison.png`` (:func:`loss_comparison_figure`); ``loss_comparison.csv``: the
    numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["loss", "run", "epochs", "best_val_accuracy", "test_accuracy"])
    for run in runs:
        best = max((r.accuracy for r in run.val), default=None)
        writer.writerow(
            [
                run.loss,
                run.run_id,
                len(run.val),
                f"{best:.6f}" if best is not None else "",
                f"{run.test_accuracy:.6f}" if run.test_accuracy is not None else "",
            ]
        )
    out = Path(out_dir)
    return [
        save_figure(loss_comparison_figure(runs), out / LOSS_PNG, dpi=120),
        atomic_write_text(out / LOSS_CSV, buffer.getvalue()),
    ]
