"""Q3 artefacts on a tiny trained run: every file exists, PNGs are valid and of sensible size,
and the data files beside them agree with independent computations."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from tests.support.files import png_ok, read_csv
from tests.support.tiny_run import damaged_checkpoint, tiny_data, tiny_run
from workbench.engine.evaluate import Evaluation, Prediction, evaluate, load_model
from workbench.engine.export.data import (
    SPLIT_GRID_CSV,
    SPLIT_GRID_PNG,
    augment_grid_names,
    write_augment_grid,
    write_split_grid,
)
from workbench.engine.export.evaluation import (
    CONFUSION_CSV,
    MISCLASSIFIED_CSV,
    RANDOM_CSV,
    REPORT_JSON,
    misclassified_figure,
    random_probabilities_figure,
    write_confusion_matrix,
    write_misclassified,
    write_random_probabilities,
    write_test_first10,
    write_test_report,
)
from workbench.engine.export.training import METRIC_NAMES, best_epoch, write_training_artefacts
from workbench.engine.runs import open_run


def no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    """An evaluation with many misclassified images (random head)."""
    path = damaged_checkpoint(tmp_path_factory.mktemp("ckpt") / "damaged.pt")
    return evaluate(load_model(path), tiny_data())


def test_split_grid_shows_the_first_images_of_each_split(tmp_path: Path) -> None:
    data = tiny_data()
    written = write_split_grid(data, tmp_path)
    assert [p.name for p in written] == [SPLIT_GRID_PNG, SPLIT_GRID_CSV]
    png_ok(tmp_path / SPLIT_GRID_PNG)
    rows = read_csv(tmp_path / SPLIT_GRID_CSV)[1:]
    expected = []
    for name in data.classes:
        for split in ("train", "val", "test"):
            paths = sorted(p for p, c, s in data.split.rows if c == name and s == split)[:5]
            expected += [[name, split, str(i + 1), p] for i, p in enumerate(paths)]
    assert rows == expected
    no_temporaries(tmp_path)


@pytest.mark.parametrize("backend", ["builtin", "albumentations"])
def test_augment_grid(tmp_path: Path, backend: str) -> None:
    written = write_augment_grid(tiny_data(), tmp_path, backend, n=8)
    png_name, txt_name = augment_grid_names(backend)
    assert [p.name for p in written] == [png_name, txt_name]
    png_ok(tmp_path / png_name)
    lines = (tmp_path / txt_name).read_text(encoding="utf-8").splitlines()
    assert lines[1] == "original" and len(lines) == 10
    assert all(line.startswith(f"#{k}: ") for k, line in enumerate(lines[2:], start=1))


def test_training_artefacts(tmp_path: Path) -> None:
    run = open_run(tiny_run().run_dir)
    written = write_training_artefacts(run, tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted([*(f"metrics_{m}.png" for m in METRIC_NAMES), "train.txt", "val.txt"])
    for name in METRIC_NAMES:
        png_ok(tmp_path / f"metrics_{name}.png")
    for split in ("train", "val"):
        assert (tmp_path / f"{split}.txt").read_bytes() == run.metrics_path(split).read_bytes()
    status = run.status()
    assert status is not None and best_epoch(run.metrics("val")) == status.best_epoch


@pytest.mark.parametrize("use_damaged", [False, True])
def test_confusion_matrix_and_report_match_sklearn(
    tmp_path: Path, damaged: Evaluation, use_damaged: bool
) -> None:
    evaluation = damaged if use_damaged else evaluate(load_model(tiny_run().run_dir), tiny_data())
    write_confusion_matrix(evaluation.report, tmp_path)
    write_test_report(evaluation.report, tmp_path)
    png_ok(tmp_path / "confusion_matrix.png")
    rows = read_csv(tmp_path / CONFUSION_CSV)
    assert rows[0] == ["true\\predicted", "cats", "dogs", "panda"]
    counts = np.array([[int(v) for v in row[1:]] for row in rows[1:]])
    y, p = evaluation.labels, evaluation.predictions
    np.testing.assert_array_equal(counts, confusion_matrix(y, p, labels=[0, 1, 2]))
    document = json.loads((tmp_path / REPORT_JSON).read_text(encoding="utf-8"))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, p, labels=[0, 1, 2], zero_division=0
    )
    assert document["accuracy"] == pytest.approx(float((y == p).mean()))
    assert [c["recall"] for c in document["per_class"]] == pytest.approx(recall.tolist())
    assert [c["precision"] for c in document["per_class"]] == pytest.approx(precision.tolist())
    assert document["f1"] == pytest.approx(f1.mean())
    assert document["split_fingerprint"] == tiny_data().fingerprint
    assert document["config"]["model"]["widths"] == [8, 16]
    text = (tmp_path / "test_report.txt").read_text(encoding="utf-8")
    assert f"accuracy          {document['accuracy']:.4f}" in text
    no_temporaries(tmp_path)


def test_test_first10(tmp_path: Path) -> None:
    evaluation = evaluate(load_model(tiny_run().run_dir), tiny_data())
    write_test_first10(evaluation, tmp_path)
    png_ok(tmp_path / "test_first10.png")
    rows = read_csv(tmp_path / "test_first10.csv")[1:]
    data = tiny_data()
    expected = [
        p
        for name in data.classes
        for p in sorted(q for q, c, s in data.split.rows if c == name and s == "test")[:10]
    ]
    assert [row[0] for row in rows] == expected


def test_random_probabilities_is_seeded(tmp_path: Path, damaged: Evaluation) -> None:
    first = write_random_probabilities(damaged, tmp_path / "a", per_class=2, seed=3)
    again = write_random_probabilities(damaged, tmp_path / "b", per_class=2, seed=3)
    assert first[1].read_text() == again[1].read_text()
    png_ok(first[0])
    rows = read_csv(tmp_path / "a" / RANDOM_CSV)
    assert len(rows) == 1 + 2 * 3
    by_class = [row[1] for row in rows[1:]]
    assert by_class == ["cats", "cats", "dogs", "dogs", "panda", "panda"]
    for row in rows[1:]:
        scores = [float(v) for v in row[5:]]
        assert sum(scores) == pytest.approx(1, abs=1e-4)
        assert row[2] == ("cats", "dogs", "panda")[int(np.argmax(scores))]
    draws = {
        write_random_probabilities(damaged, tmp_path / f"s{s}", per_class=2, seed=s)[1].read_text()
        for s in range(6)
    }
    assert len(draws) > 1


def test_misclassified(tmp_path: Path, damaged: Evaluation) -> None:
    write_misclassified(damaged, tmp_path)
    _, height = png_ok(tmp_path / "misclassified.png")
    assert height > 250 * min(len(damaged.explanations), 8)
    rows = read_csv(tmp_path / MISCLASSIFIED_CSV)
    assert rows[0][:6] == ["rank", "path", "true", "predicted", "correct", "loss"]
    assert (
        len(rows) - 1
        == len(damaged.misclassified)
        == int((damaged.labels != damaged.predictions).sum())
    )
    losses = [float(row[5]) for row in rows[1:]]
    assert losses == sorted(losses, reverse=True)
    assert all(row[2] != row[3] and row[4] == "0" for row in rows[1:])


def test_misclassified_when_everything_is_right(tmp_path: Path) -> None:
    evaluation = evaluate(load_model(tiny_run().run_dir), tiny_data())
    evaluation.misclassified, evaluation.explanations = [], []
    write_misclassified(evaluation, tmp_path)
    png_ok(tmp_path / "misclassified.png", min_height=100)
    assert len(read_csv(tmp_path / MISCLASSIFIED_CSV)) == 1


def _spread(evaluation: Evaluation) -> Evaluation:
    """The same evaluation (the same argmax) with its softmax scores blended towards uniform
    by a different amount per image: bars of every length, from short to near 1."""
    k = evaluation.probabilities.shape[1]
    blend = 0.25 * (np.arange(len(evaluation.probabilities)) % 4)[:, None]
    sharp = (1 - blend) * evaluation.probabilities + blend / k

    def again(p: Prediction) -> Prediction:
        return dataclasses.replace(p, probabilities=tuple(float(v) for v in sharp[p.position]))

    return dataclasses.replace(
        evaluation,
        probabilities=sharp,
        misclassified=[again(p) for p in evaluation.misclassified],
        explanations=[
            dataclasses.replace(e, prediction=again(e.prediction)) for e in evaluation.explanations
        ],
    )


def _softmax_numbers(figure: Figure) -> list[tuple[Text, Rectangle, Axes]]:
    """Every softmax number of the bars in ``figure`` with its bar and axes."""
    found = []
    every = [*figure.axes, *(inset for axes in figure.axes for inset in axes.child_axes)]
    for axes in every:
        bars = [patch for patch in axes.patches if isinstance(patch, Rectangle)]
        numbers = [t for t in axes.texts if re.fullmatch(r"[01]\.\d\d", t.get_text())]
        if bars and len(numbers) == len(bars):
            found += [(text, bar, axes) for text, bar in zip(numbers, bars, strict=True)]
    return found


@pytest.mark.parametrize("which", ["misclassified", "random_probabilities"])
def test_softmax_numbers_are_readable_and_beside_or_inside_their_bar(
    damaged: Evaluation, which: str
) -> None:
    evaluation = _spread(damaged)
    if which == "misclassified":
        figure, smallest = misclassified_figure(evaluation), 8.0
    else:
        figure, smallest = random_probabilities_figure(evaluation, per_class=3, seed=1), 6.5
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    numbers = _softmax_numbers(figure)
    assert len(numbers) >= 9
    long = []
    for text, bar, axes in numbers:
        assert text.get_fontsize() >= smallest
        box = text.get_window_extent(renderer)
        drawn = bar.get_window_extent(renderer)
        assert box.x1 <= axes.get_window_extent(renderer).x1 + 1  # not cut at the axes' end
        if bar.get_width() >= 0.5:  # a long bar holds its number
            long.append(bar.get_width())
            assert drawn.x0 <= box.x0 and box.x1 <= drawn.x1, (text.get_text(), box, drawn)
        else:  # a short one has it just right of its end, never on it
            assert box.x0 >= drawn.x1, (text.get_text(), box, drawn)
    assert any(0.5 <= w < 0.9 for w in long) and any(w >= 0.9 for w in long)  # every kind
