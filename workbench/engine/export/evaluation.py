"""Q3 g, h, i, j artefacts of an :class:`~workbench.engine.evaluate.Evaluation`.

``confusion_matrix.png`` + ``.csv``, ``test_first10.png`` + ``.csv``,
``random_probabilities.png`` + ``.csv``, ``misclassified.png`` + ``.csv`` and
``test_report.txt`` + ``.json``. Each function only draws or formats what the evaluation
computed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.engine.atomic import atomic_write_text
from workbench.engine.evaluate import Evaluation, Prediction, TestReport
from workbench.engine.export import new_figure, save_figure
from workbench.engine.predict import ImagePrediction

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CONFUSION_PNG = "confusion_matrix.png"
CONFUSION_CSV = "confusion_matrix.csv"
FIRST10_PNG = "test_first10.png"
FIRST10_CSV = "test_first10.csv"
RANDOM_PNG = "random_probabilities.png"
RANDOM_CSV = "random_probabilities.csv"
CONFUSION_GRID_PNG = "confusion_grid.png"
CONFUSION_GRID_CSV = "confusion_grid.csv"
MISCLASSIFIED_PNG = "misclassified.png"
MISCLASSIFIED_CSV = "misclassified.csv"
REPORT_TXT = "test_report.txt"
REPORT_JSON = "test_report.json"
RIGHT, WRONG, NEUTRAL, UNKNOWN = "#2ca02c", "#d62728", "#9e9e9e", "#1f77b4"
LONG_BAR = 0.5
"""A softmax bar at least this long holds its number; a shorter one has it on its right."""


def _csv(rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _prediction_rows(evaluation: Evaluation, predictions: Sequence[Prediction]) -> list[list[Any]]:
    classes = evaluation.classes
    rows: list[list[Any]] = [
        ["path", "true", "predicted", "correct", "loss", *(f"p_{name}" for name in classes)]
    ]
    for p in predictions:
        rows.append(
            [
                p.path,
                classes[p.true],
                classes[p.predicted],
                int(p.correct),
                f"{p.loss:.6f}",
                *(f"{v:.6f}" for v in p.probabilities),
            ]
        )
    return rows


def _blank(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _bars(ax: Axes, prediction: Prediction, classes: Sequence[str], fontsize: float = 7.0) -> None:
    """:func:`_score_bars` of a test image's prediction (its true class known)."""
    _score_bars(ax, prediction.probabilities, classes, prediction.true, fontsize)


def _score_bars(
    ax: Axes,
    probabilities: Sequence[float],
    classes: Sequence[str],
    true: int | None,
    fontsize: float = 7.0,
) -> None:
    """Softmax scores of every class as horizontal bars: the predicted class's bar green when
    right and red when wrong (blue when the true class is unknown), the true class's name in
    bold. Each number sits inside the end of a long bar (white on its colour) and just right of
    a short one, never across the bar's end where neither colour reads."""
    predicted = int(np.argmax(probabilities))
    colour = UNKNOWN if true is None else RIGHT if predicted == true else WRONG
    colours = [colour if k == predicted else NEUTRAL for k in range(len(classes))]
    positions = np.arange(len(classes))
    ax.barh(positions, probabilities, color=colours, height=0.7)
    ax.set_xlim(0, 1)
    ax.set_yticks(positions)
    ax.set_yticklabels([name[:10] for name in classes], fontsize=fontsize)
    for k, label in enumerate(ax.get_yticklabels()):
        if k == true:
            label.set_fontweight("bold")
    ax.invert_yaxis()
    ax.tick_params(axis="x", labelsize=fontsize - 1.5, length=2)
    ax.tick_params(axis="y", length=0)
    for k, value in enumerate(probabilities):
        text = f"{value:.2f}"
        if value >= LONG_BAR:
            ax.text(value - 0.02, k, text, va="center", ha="right", fontsize=fontsize,
                    color="white", fontweight="bold")  # fmt: skip
        else:
            ax.text(value + 0.02, k, text, va="center", ha="left", fontsize=fontsize)


# ----------------------------------------------------------------------- confusion matrix


def confusion_csv_text(report: TestReport) -> str:
    """Counts, rows true classes and columns predicted classes, first cell ``true\\predicted``."""
    rows: list[list[Any]] = [["true\\predicted", *report.classes]]
    rows += [[name, *counts] for name, counts in zip(report.classes, report.confusion, strict=True)]
    return _csv(rows)


def confusion_matrix_figure(report: TestReport) -> Figure:
    """The test confusion matrix: counts and row percentages, coloured by row share."""
    classes = report.classes
    k = len(classes)
    counts = np.asarray(report.confusion)
    shares = np.asarray(report.confusion_normalized)
    side = max(4.0, 1.1 * k + 2.0)
    figure = new_figure(side + 1.0, side)
    ax = figure.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    for t in range(k):
        for p in range(k):
            dark = shares[t, p] > 0.55
            ax.text(
                p,
                t,
                f"{counts[t, p]}\n{shares[t, p]:.1%}",
                ha="center",
                va="center",
                fontsize=9 if k <= 6 else 6,
                color="white" if dark else "black",
                fontweight="bold" if t == p else "normal",
            )
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(classes, rotation=30 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticklabels(classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(
        f"Test confusion matrix ({report.count} images, accuracy {report.accuracy:.1%})\n"
        f"run {report.run_id}, epoch {report.checkpoint_epoch}",
        fontsize=10,
    )
    figure.tight_layout()
    return figure


def write_confusion_matrix(report: TestReport, out_dir: str | Path) -> list[Path]:
    """``confusion_matrix.png`` (:func:`confusion_matrix_figure`) and ``confusion_matrix.csv``
    (counts)."""
    out = Path(out_dir)
    return [
        save_figure(confusion_matrix_figure(report), out / CONFUSION_PNG, dpi=130),
        atomic_write_text(out / CONFUSION_CSV, confusion_csv_text(report)),
    ]


# --------------------------------------------------------------------------- image grids


def _shown(evaluation: Evaluation, chosen: dict[int, list[int]]) -> list[Prediction]:
    return [evaluation.prediction(p) for positions in chosen.values() for p in positions]


def first10_figure(evaluation: Evaluation, n: int = 10) -> Figure:
    """The first ``n`` test images of each class, titled with the true and predicted class
    (green right, red wrong)."""
    classes = evaluation.classes
    chosen = evaluation.first_per_class(n)
    figure = new_figure(1.45 * n + 0.8, 1.95 * len(classes) + 0.2)
    axes = figure.subplots(len(classes), n, squeeze=False)
    shown = _shown(evaluation, chosen)
    for label, positions in chosen.items():
        for c in range(n):
            ax = axes[label][c]
            _blank(ax)
            if c >= len(positions):
                continue
            p = evaluation.prediction(positions[c])
            ax.imshow(evaluation.images[p.position])
            ax.set_title(
                f"true {classes[p.true][:9]}\npred {classes[p.predicted][:9]} "
                f"{p.probabilities[p.predicted]:.2f}",
                fontsize=6.5,
                color=RIGHT if p.correct else WRONG,
            )
        axes[label][0].set_ylabel(classes[label], fontsize=10)
    right = sum(p.correct for p in shown)
    figure.suptitle(
        f"First {n} test images of each class: {right}/{len(shown)} right "
        f"(run {evaluation.report.run_id})",
        fontsize=10,
    )
    figure.tight_layout(h_pad=0.8)
    return figure


def write_test_first10(evaluation: Evaluation, out_dir: str | Path, n: int = 10) -> list[Path]:
    """``test_first10.png`` (:func:`first10_figure`); ``test_first10.csv``: its rows."""
    shown = _shown(evaluation, evaluation.first_per_class(n))
    out = Path(out_dir)
    return [
        save_figure(first10_figure(evaluation, n), out / FIRST10_PNG, dpi=120),
        atomic_write_text(out / FIRST10_CSV, _csv(_prediction_rows(evaluation, shown))),
    ]


def random_probabilities_figure(
    evaluation: Evaluation, per_class: int = 6, seed: int = 0
) -> Figure:
    """One row per true class of ``per_class`` random test images (drawn with ``seed``), each
    with its softmax scores as bars below (coloured by correctness)."""
    classes = evaluation.classes
    chosen = evaluation.random_per_class(per_class, seed)
    shown = _shown(evaluation, chosen)
    k = len(classes)
    bars = 0.2 * k + 0.3
    width = 1.75 * per_class + 0.9
    left, right, wspace = 0.07, 0.98, 0.45
    side = width * (right - left) / (per_class + wspace * (per_class - 1))  # a square image
    gap = bars + 0.5  # room for the bars and the next row's titles
    height = (side + gap) * k + 0.6
    figure = new_figure(width, height)
    grid = figure.add_gridspec(
        k,
        per_class,
        left=left,
        right=right,
        hspace=gap / side,
        wspace=wspace,
        top=1 - 0.6 / height,
        bottom=gap / height,
    )
    for label, positions in chosen.items():
        for c in range(per_class):
            top = figure.add_subplot(grid[label, c])
            _blank(top)
            if c >= len(positions):
                continue
            p = evaluation.prediction(positions[c])
            top.imshow(evaluation.images[p.position])
            top.set_title(p.file_name[:20], fontsize=6)
            if c == 0:
                top.set_ylabel(f"true\n{classes[label]}", fontsize=9)
            # the bars sit right under their image, whatever the image's aspect left free
            below = top.inset_axes((0.0, -0.08 - bars / side, 1.0, bars / side * 0.85))
            _bars(below, p, classes)
    right = sum(p.correct for p in shown)
    figure.suptitle(
        f"Random test images per true class with their softmax scores (seed {seed}): "
        f"{right}/{len(shown)} right; green bar = right prediction, red = wrong",
        fontsize=9,
    )
    return figure


def write_random_probabilities(
    evaluation: Evaluation, out_dir: str | Path, per_class: int = 6, seed: int = 0
) -> list[Path]:
    """``random_probabilities.png`` (:func:`random_probabilities_figure`) and
    ``random_probabilities.csv``: the same numbers."""
    shown = _shown(evaluation, evaluation.random_per_class(per_class, seed))
    out = Path(out_dir)
    figure = random_probabilities_figure(evaluation, per_class, seed)
    return [
        save_figure(figure, out / RANDOM_PNG, dpi=120),
        atomic_write_text(out / RANDOM_CSV, _csv(_prediction_rows(evaluation, shown))),
    ]


def confusion_grid_positions(evaluation: Evaluation, seed: int = 0) -> dict[tuple[int, int], int]:
    """One random test image (its position) for every (true, predicted) cell that has one."""
    rng = np.random.default_rng(seed)
    chosen: dict[tuple[int, int], int] = {}
    k = len(evaluation.classes)
    for t in range(k):
        for q in range(k):
            landed = np.flatnonzero((evaluation.labels == t) & (evaluation.predictions == q))
            if len(landed):
                chosen[(t, q)] = int(rng.choice(landed))
    return chosen


def confusion_grid_figure(evaluation: Evaluation, seed: int = 0) -> Figure:
    """The confusion matrix drawn with pictures: rows the true class, columns the predicted
    class, each cell one random test image that landed there with its softmax bars below it
    ("none" where no image landed)."""
    classes = evaluation.classes
    k = len(classes)
    chosen = confusion_grid_positions(evaluation, seed)
    counts = evaluation.report.confusion
    bars = 0.2 * k + 0.3
    side = 1.9
    gap = bars + 0.55
    width = side * k * 1.25 + 1.2
    height = (side + gap) * k + 0.9
    figure = new_figure(width, height)
    grid = figure.add_gridspec(
        k,
        k,
        left=1.0 / width,
        right=0.98,
        hspace=gap / side,
        wspace=0.25,
        top=1 - 0.9 / height,
        bottom=gap / height,
    )
    for t in range(k):
        for q in range(k):
            ax = figure.add_subplot(grid[t, q])
            _blank(ax)
            if t == 0:
                ax.set_title(f"predicted {classes[q][:14]}", fontsize=8, pad=14)
            if q == 0:
                ax.set_ylabel(f"true\n{classes[t][:14]}", fontsize=9)
            position = chosen.get((t, q))
            if position is None:
                ax.text(0.5, 0.5, "none", ha="center", va="center", fontsize=10, color=NEUTRAL)
                continue
            prediction = evaluation.prediction(position)
            ax.imshow(evaluation.images[position])
            ax.text(
                0.5, 1.02, f"{counts[t][q]} here", transform=ax.transAxes, ha="center",
                va="bottom", fontsize=6.5, color=RIGHT if t == q else WRONG,
            )  # fmt: skip
            below = ax.inset_axes((0.0, -0.08 - bars / side, 1.0, bars / side * 0.85))
            _bars(below, prediction, classes)
    figure.suptitle(
        f"Confusion matrix with pictures: one random test image per cell (seed {seed}), "
        "rows true class, columns predicted class",
        fontsize=9,
    )
    return figure


def write_confusion_grid(evaluation: Evaluation, out_dir: str | Path, seed: int = 0) -> list[Path]:
    """``confusion_grid.png`` (:func:`confusion_grid_figure`) and ``confusion_grid.csv``: the
    image shown in each cell with its probabilities."""
    chosen = confusion_grid_positions(evaluation, seed)
    shown = [evaluation.prediction(position) for position in chosen.values()]
    out = Path(out_dir)
    return [
        save_figure(confusion_grid_figure(evaluation, seed), out / CONFUSION_GRID_PNG, dpi=120),
        atomic_write_text(out / CONFUSION_GRID_CSV, _csv(_prediction_rows(evaluation, shown))),
    ]


def _overlay(ax: Axes, image: np.ndarray, cam: np.ndarray, title: str) -> None:
    _blank(ax)
    ax.imshow(image)
    if float(cam.max()) > 0:
        ax.imshow(cam, cmap="jet", alpha=0.45, vmin=0.0, vmax=1.0)
    else:
        title += "\n(no positive evidence anywhere)"
    ax.set_title(title, fontsize=7)


def misclassified_figure(evaluation: Evaluation) -> Figure:
    """The worst misclassified test images (by loss), each with Grad-CAM overlays for its true
    and its predicted class and its probability bars."""
    classes = evaluation.classes
    explanations = evaluation.explanations
    count = max(len(explanations), 1)
    height = 2.3 * count + 0.7
    figure = new_figure(10.5, height)
    grid = figure.add_gridspec(
        count,
        4,
        width_ratios=[1, 1, 1, 1.25],
        wspace=0.3,
        hspace=0.5,
        top=1 - 1.15 / height,
        bottom=0.2 / height,
    )
    if not explanations:
        ax = figure.add_subplot(grid[0, :])
        _blank(ax)
        ax.text(
            0.5,
            0.5,
            "No misclassified test images: every prediction is right.",
            ha="center",
            va="center",
            fontsize=11,
        )
    for r, item in enumerate(explanations):
        p = item.prediction
        image = evaluation.images[p.position]
        first = figure.add_subplot(grid[r, 0])
        _blank(first)
        first.imshow(image)
        first.set_title(f"#{r + 1} {p.file_name[:24]}\nloss {p.loss:.2f}", fontsize=7)
        _overlay(
            figure.add_subplot(grid[r, 1]),
            image,
            item.cam_true,
            f"Grad-CAM for true '{classes[p.true]}'\np = {p.probabilities[p.true]:.2f}",
        )
        _overlay(
            figure.add_subplot(grid[r, 2]),
            image,
            item.cam_predicted,
            f"Grad-CAM for predicted '{classes[p.predicted]}'\n"
            f"p = {p.probabilities[p.predicted]:.2f}",
        )
        bars = figure.add_subplot(grid[r, 3])
        _bars(bars, p, classes, fontsize=9.0)
        bars.set_title("softmax scores (true class bold)", fontsize=7)
    total = len(evaluation.misclassified)
    figure.suptitle(
        f"Worst {len(explanations)} of {total} misclassified test images "
        f"(of {evaluation.report.count}), highest loss first; red/yellow = where the evidence "
        "for that class is",
        fontsize=9,
    )
    return figure


def write_misclassified(evaluation: Evaluation, out_dir: str | Path) -> list[Path]:
    """``misclassified.png`` (:func:`misclassified_figure`); ``misclassified.csv``: every
    misclassified test image, ranked by loss."""
    rows = _prediction_rows(evaluation, evaluation.misclassified)
    rows[0].insert(0, "rank")
    for rank, row in enumerate(rows[1:], start=1):
        row.insert(0, rank)
    out = Path(out_dir)
    return [
        save_figure(misclassified_figure(evaluation), out / MISCLASSIFIED_PNG, dpi=120),
        atomic_write_text(out / MISCLASSIFIED_CSV, _csv(rows)),
    ]


def prediction_cam_figure(
    prediction: ImagePrediction, cam: np.ndarray, class_index: int, classes: Sequence[str]
) -> Figure:
    """Any image (``workbench predict --cam``): as the model saw it, its Grad-CAM overlay for
    ``class_index`` and its softmax bars."""
    figure = new_figure(8.0, 2.9)
    grid = figure.add_gridspec(1, 3, width_ratios=[1, 1, 1.25], wspace=0.3, top=0.78)
    first = figure.add_subplot(grid[0, 0])
    _blank(first)
    first.imshow(prediction.image)
    first.set_title(Path(prediction.file).name[:28], fontsize=7)
    _overlay(
        figure.add_subplot(grid[0, 1]),
        prediction.image,
        cam,
        f"Grad-CAM for '{classes[class_index]}'\np = {prediction.probabilities[class_index]:.2f}",
    )
    bars = figure.add_subplot(grid[0, 2])
    _score_bars(bars, prediction.probabilities, classes, None, fontsize=9.0)
    bars.set_title("softmax scores", fontsize=7)
    low = " (low confidence: close to guessing)" if prediction.low_confidence else ""
    figure.suptitle(
        f"predicted {classes[prediction.predicted]} ({prediction.confidence:.2f}){low}; "
        "red/yellow = where the evidence for that class is",
        fontsize=9,
    )
    return figure


def write_prediction_cam(
    prediction: ImagePrediction,
    cam: np.ndarray,
    class_index: int,
    classes: Sequence[str],
    destination: str | Path,
) -> Path:
    """``destination`` (PNG): :func:`prediction_cam_figure`."""
    figure = prediction_cam_figure(prediction, cam, class_index, classes)
    return save_figure(figure, destination, dpi=120)


# ------------------------------------------------------------------------------ report


def report_text(report: TestReport) -> str:
    """The report as plain text: metrics, per-class table, confusion matrix, provenance."""
    width = max(len("class"), *(len(name) for name in report.classes))
    lines = [
        f"Test report: run {report.run_id}",
        f"checkpoint        {report.checkpoint} (epoch {report.checkpoint_epoch})",
        f"data              {report.data}",
        f"split fingerprint {report.split_fingerprint}"
        + (
            ""
            if report.fingerprint_matches
            else f"  (model trained on split {report.checkpoint_fingerprint}: NOT the same)"
        ),
        f"test images       {report.count}",
        "",
        f"accuracy          {report.accuracy:.4f}",
        f"loss (CE)         {report.loss:.4f}",
        f"macro precision   {report.precision:.4f}",
        f"macro recall      {report.recall:.4f}",
        f"macro F1          {report.f1:.4f}",
        "",
        f"{'class':<{width}}  precision  recall      f1  support",
    ]
    for row in report.per_class:
        lines.append(
            f"{row.name:<{width}}  {row.precision:9.4f}  {row.recall:6.4f}  {row.f1:6.4f}  "
            f"{row.support:7d}"
        )
    lines += ["", "confusion matrix (rows true, columns predicted)"]
    cell = max(6, *(len(name) for name in report.classes))
    lines.append(" " * width + "  " + " ".join(f"{name:>{cell}}" for name in report.classes))
    for name, counts in zip(report.classes, report.confusion, strict=True):
        lines.append(f"{name:<{width}}  " + " ".join(f"{v:>{cell}d}" for v in counts))
    lines += ["", "most confused (true -> predicted)"]
    if not report.most_confused:
        lines.append("  none")
    for pair in report.most_confused:
        lines.append(
            f"  {pair.true} -> {pair.predicted}: {pair.count} ({pair.rate:.1%} of {pair.true})"
        )
    lines += ["", "config", json.dumps(report.config, indent=2, sort_keys=True)]
    return "\n".join(lines) + "\n"


def write_test_report(report: TestReport, out_dir: str | Path) -> list[Path]:
    """``test_report.txt`` and ``test_report.json``."""
    out = Path(out_dir)
    # Strict JSON: load_model refuses the checkpoints (non-finite weights, a zero spread) that
    # could make a NaN here, so one would be a bug, and it is refused rather than written.
    document = json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"
    return [
        atomic_write_text(out / REPORT_TXT, report_text(report)),
        atomic_write_text(out / REPORT_JSON, document),
    ]
