"""Evaluation on the untouched test split (Q3 g, h, i, j): compute, never present.

:func:`load_model` reads a run's ``best.pt`` (or any checkpoint file) with
``torch.load(..., weights_only=True)`` -- a pickle that would run code is refused, nothing in it
executes -- and rebuilds the CNN from the saved config. :func:`evaluate` predicts the test split
and returns an :class:`Evaluation`: per-image probabilities, predictions and losses, a
:class:`TestReport` (accuracy, per-class and macro precision/recall/F1, the confusion matrix as
counts and row-normalised, the most-confused pairs), the misclassified images ranked by loss and,
for the worst of them, Grad-CAM maps for the true and the predicted class. The figures and files
are drawn by :mod:`workbench.engine.export.evaluation`; the TUI renders the same objects.

The per-image loss is the cross-entropy ``-log p(true class)`` whatever loss the run trained
with, so rankings are comparable between runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.config import DataConfig, RunConfig
from workbench.engine.checkpoint import architecture_mismatch, read_checkpoint
from workbench.engine.data import prepare_data
from workbench.engine.gradcam import grad_cam
from workbench.engine.model import Classifier, build_model
from workbench.engine.prepared import PreparedData
from workbench.engine.progress import ProgressFn, report
from workbench.engine.runs import CHECKPOINTS_DIR, Run, config_from_document, is_run_dir
from workbench.errors import ConfigError, RunFileError, UsageError

EXPLAINED = 8
"""Misclassified images that get Grad-CAM maps in :func:`evaluate` (the worst by loss)."""
BATCH = 128


# ------------------------------------------------------------------------------- loading


@dataclass
class LoadedModel:
    """A checkpoint's model in eval mode, with everything needed to feed it."""

    model: Classifier
    config: RunConfig
    """The saved config (the run's config.json when loaded from a run directory)."""
    classes: list[str]
    image_size: int
    mean: tuple[float, float, float]
    """Train-split channel statistics the model was trained with (0..1 scale)."""
    std: tuple[float, float, float]
    split_fingerprint: str
    checkpoint: Path
    epoch: int
    """Completed training epochs when the checkpoint was written."""
    run: Run | None = None
    """The run directory the checkpoint belongs to, if any."""
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def name(self) -> str:
        """The run id, or the checkpoint file's stem for a loose checkpoint."""
        return self.run.id if self.run is not None else self.checkpoint.stem

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, S, S) -> the float input the model was trained on, on its device."""
        mean = torch.tensor(self.mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        x = images.to(self.device).to(torch.float32) / 255.0
        return (x - mean) / std


def resolve_checkpoint(source: str | Path) -> tuple[Path, Run | None]:
    """A run directory (its best.pt, else last.pt) or a checkpoint file, and its run if any."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not is_run_dir(path):
            raise UsageError(f"{path}: neither a run directory (no config.json) nor a checkpoint")
        for name in ("best", "last"):
            candidate = path / CHECKPOINTS_DIR / f"{name}.pt"
            if candidate.is_file():
                return candidate, Run(path)
        raise UsageError(f"{path}: the run has no checkpoint yet (no {CHECKPOINTS_DIR}/best.pt)")
    if not path.is_file():
        raise UsageError(f"{path}: no such run directory or checkpoint file")
    owner = path.parent.parent
    run = Run(owner) if path.parent.name == CHECKPOINTS_DIR and is_run_dir(owner) else None
    return path, run


def _config_of(state: dict[str, Any], run: Run | None, path: Path) -> RunConfig:
    """The run's config.json (the saved config of a loose checkpoint), checked."""
    if run is not None:
        return run.config()
    return config_from_document(state["config"], path)


def load_model(source: str | Path, *, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a run directory's best checkpoint (or a checkpoint file) into a fresh model.

    Raises UsageError (one line) for a missing file, something that is not a checkpoint, an
    unsafe pickle (refused, not executed) and weights that do not fit the saved architecture.
    """
    path, run = resolve_checkpoint(source)
    state = read_checkpoint(path)
    config = _config_of(state, run, path)
    classes: list[str] = state["classes"]
    if run is not None and run.classes() != classes:
        raise RunFileError(path, f"its classes {classes} are not config.json's {run.classes()}")
    if state["image_size"] != config.data.image_size:
        raise RunFileError(
            path,
            f"its image_size {state['image_size']} is not its config's {config.data.image_size}",
        )
    try:
        model = build_model(config.model, len(classes))
    except (ConfigError, ValueError) as error:
        raise RunFileError(path, f"cannot rebuild the model ({error})") from None
    weights = state["model"]
    problem = architecture_mismatch(model, weights)
    if problem is not None:
        raise RunFileError(path, problem, advice="")
    model.load_state_dict(weights)
    target = torch.device(device)
    model.to(target).eval()
    mean = tuple(float(v) for v in state["mean"])
    std = tuple(float(v) for v in state["std"])
    return LoadedModel(
        model=model,
        config=config,
        classes=classes,
        image_size=int(state["image_size"]),
        mean=(mean[0], mean[1], mean[2]),
        std=(std[0], std[1], std[2]),
        split_fingerprint=state.get("split_fingerprint", ""),
        checkpoint=path,
        epoch=state.get("epoch", 0),
        run=run,
        device=target,
    )


def evaluation_data_config(
    loaded: LoadedModel, data: str | None = None, cache_dir: str | None = None
) -> DataConfig:
    """The data config to test ``loaded`` on: its own, with the data path and cache replaced."""
    config = loaded.config.data
    changes: dict[str, Any] = {"image_size": loaded.image_size}
    if data is not None:
        changes["data"] = str(Path(data).expanduser().resolve())
    if cache_dir is not None:
        changes["cache_dir"] = cache_dir
    return dataclasses.replace(config, **changes)


def check_classes(loaded: LoadedModel, data: PreparedData) -> None:
    """UsageError (one line) if the data's classes are not the ones the model was trained on."""
    if list(data.classes) != list(loaded.classes):
        raise UsageError(
            f"{loaded.checkpoint}: other classes: the checkpoint knows "
            f"{len(loaded.classes)} ({', '.join(loaded.classes)}) but {data.scan.source} has "
            f"{len(data.classes)} ({', '.join(data.classes)})"
        )


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class ClassMetrics:
    """One row of the per-class table."""

    name: str
    precision: float
    recall: float
    f1: float
    support: int
    """Test images of this class."""


@dataclass(frozen=True)
class ConfusedPair:
    """Test images of class ``true`` predicted as ``predicted``."""

    true: str
    predicted: str
    count: int
    rate: float
    """count / test images of ``true`` (the row-normalised cell)."""


@dataclass(frozen=True)
class TestReport:
    """Test metrics of one checkpoint: JSON-able, what test_report.json holds."""

    __test__ = False  # not a pytest test class, whatever its name

    run_id: str
    checkpoint: str
    checkpoint_epoch: int
    data: str
    """The data set's display path (or ``demo:<seed>``)."""
    split_fingerprint: str
    """Fingerprint of the split the test images come from."""
    checkpoint_fingerprint: str
    """Fingerprint of the split the model was trained on."""
    classes: list[str]
    count: int
    accuracy: float
    loss: float
    """Mean cross-entropy -log p(true class) over the test images."""
    precision: float
    """Macro averages over classes (a class never predicted counts as 0)."""
    recall: float
    f1: float
    per_class: list[ClassMetrics]
    confusion: list[list[int]]
    """Counts; rows are true classes, columns predicted classes."""
    confusion_normalized: list[list[float]]
    """Each row divided by its sum (the per-class recall on the diagonal)."""
    most_confused: list[ConfusedPair]
    """Off-diagonal cells with at least one image, most images first."""
    config: dict[str, Any]

    @property
    def fingerprint_matches(self) -> bool:
        """False: the test images may not be the ones held out when the model was trained."""
        expected = self.checkpoint_fingerprint
        return not expected or self.split_fingerprint == expected

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["fingerprint_matches"] = self.fingerprint_matches
        return document


@dataclass(frozen=True)
class Prediction:
    """One test image's prediction."""

    position: int
    """Index into the Evaluation's arrays (test-split order)."""
    path: str
    """Path relative to the data set root (``class/file.jpg``)."""
    true: int
    predicted: int
    probabilities: tuple[float, ...]
    loss: float
    """-log p(true class)."""

    @property
    def correct(self) -> bool:
        return self.true == self.predicted

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Explanation:
    """Grad-CAM maps of one image for its true and its predicted class."""

    prediction: Prediction
    cam_true: np.ndarray
    """float32 (S, S) in [0, 1]: where the evidence for the true class is."""
    cam_predicted: np.ndarray
    """float32 (S, S) in [0, 1]: where the evidence for the predicted class is."""


@dataclass
class Evaluation:
    """Everything :func:`evaluate` computed; arrays are in test-split order."""

    report: TestReport
    loaded: LoadedModel
    classes: list[str]
    paths: list[str]
    labels: np.ndarray
    """int64 (N,) true classes."""
    probabilities: np.ndarray
    """float32 (N, C) softmax scores."""
    predictions: np.ndarray
    """int64 (N,) argmax of the probabilities."""
    losses: np.ndarray
    """float32 (N,) -log p(true class)."""
    images: np.ndarray
    """uint8 (N, S, S, 3) the test images as the model saw them (before normalisation)."""
    misclassified: list[Prediction]
    """Every wrong prediction, highest loss first."""
    explanations: list[Explanation]
    """Grad-CAM for the worst misclassified images (at most :data:`EXPLAINED`)."""

    def prediction(self, position: int) -> Prediction:
        return Prediction(
            position=position,
            path=self.paths[position],
            true=int(self.labels[position]),
            predicted=int(self.predictions[position]),
            probabilities=tuple(float(p) for p in self.probabilities[position]),
            loss=float(self.losses[position]),
        )

    def first_per_class(self, n: int = 10) -> dict[int, list[int]]:
        """The first ``n`` test images (positions) of every class, in split order."""
        out: dict[int, list[int]] = {label: [] for label in range(len(self.classes))}
        for position, label in enumerate(self.labels.tolist()):
            if len(out[label]) < n:
                out[label].append(position)
        return out

    def random_per_class(self, n: int = 6, seed: int = 0) -> dict[int, list[int]]:
        """``n`` random test images (positions) of every class; the same seed, the same draw."""
        rng = np.random.default_rng(seed)
        out: dict[int, list[int]] = {}
        for label in range(len(self.classes)):
            positions = np.flatnonzero(self.labels == label)
            take = min(n, len(positions))
            out[label] = sorted(rng.choice(positions, size=take, replace=False).tolist())
        return out

    def explain(self, position: int, class_index: int) -> np.ndarray:
        """Grad-CAM (S, S) of the test image at ``position`` for any class."""
        return explain_images(self.loaded, self.images[[position]], [class_index])[0]


# ---------------------------------------------------------------------------- computing


def predict(
    loaded: LoadedModel, images: torch.Tensor, progress: ProgressFn | None = None
) -> np.ndarray:
    """Softmax probabilities float32 (N, C) of uint8 images (N, 3, S, S), in batches."""
    out: list[np.ndarray] = []
    total = images.shape[0]
    with torch.inference_mode():
        for start in range(0, total, BATCH):
            x = loaded.normalise(images[start : start + BATCH])
            out.append(loaded.model.predict_proba(x).float().cpu().numpy())
            report(progress, "predicting test images", min(start + BATCH, total), total)
    if not out:
        return np.zeros((0, len(loaded.classes)), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


def explain_images(
    loaded: LoadedModel, images: np.ndarray, classes: Sequence[int]
) -> list[np.ndarray]:
    """Grad-CAM maps float32 (S, S) of uint8 HWC ``images`` for the given classes."""
    if len(images) == 0:
        return []
    x = loaded.normalise(torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2))
    maps = grad_cam(loaded.model, x, list(classes))
    return [m.cpu().numpy().astype(np.float32) for m in maps]


def compute_test_metrics(
    labels: np.ndarray, predictions: np.ndarray, losses: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, per-class and macro P/R/F1, confusion (counts, row-normalised), pairs."""
    from sklearn.metrics import precision_recall_fscore_support

    from workbench.engine.metrics import confusion

    k = len(classes)
    ids = list(range(k))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=ids, average=None, zero_division=0
    )
    matrix = confusion(labels, predictions, k).astype(np.int64)
    rows = matrix.sum(axis=1, keepdims=True)
    normalized = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    pairs = [
        ConfusedPair(classes[t], classes[p], int(matrix[t, p]), float(normalized[t, p]))
        for t in ids
        for p in ids
        if t != p and matrix[t, p] > 0
    ]
    pairs.sort(key=lambda pair: (-pair.count, -pair.rate, pair.true, pair.predicted))
    count = len(labels)
    return {
        "count": count,
        "accuracy": float((labels == predictions).mean()) if count else 0.0,
        "loss": float(losses.mean()) if count else 0.0,
        "precision": float(np.mean(precision)) if k else 0.0,
        "recall": float(np.mean(recall)) if k else 0.0,
        "f1": float(np.mean(f1)) if k else 0.0,
        "per_class": [
            ClassMetrics(classes[i], float(precision[i]), float(recall[i]), float(f1[i]), int(s))
            for i, s in enumerate(support)
        ],
        "confusion": matrix.tolist(),
        "confusion_normalized": normalized.tolist(),
        "most_confused": pairs,
    }


def evaluate(
    loaded: LoadedModel,
    data: PreparedData,
    *,
    explained: int = EXPLAINED,
    progress: ProgressFn | None = None,
) -> Evaluation:
    """Predict the test split of ``data`` with ``loaded`` and compute every test result."""
    check_classes(loaded, data)
    if data.image_size != loaded.image_size:
        raise UsageError(
            f"{loaded.checkpoint}: the model takes {loaded.image_size} px images, "
            f"the data was prepared at {data.image_size} px"
        )
    indices = data.subset_indices("test")
    images = data.images[indices]
    labels = data.labels[indices].numpy().astype(np.int64)
    probabilities = predict(loaded, images, progress)
    predictions = probabilities.argmax(axis=1).astype(np.int64) if len(labels) else labels.copy()
    picked = probabilities[np.arange(len(labels)), labels] if len(labels) else probabilities[:, 0]
    losses = (-np.log(np.clip(picked, 1e-12, 1.0))).astype(np.float32)
    paths = [data.scan.paths[i] for i in indices.tolist()]
    metrics = compute_test_metrics(labels, predictions, losses, loaded.classes)
    report_ = TestReport(
        run_id=loaded.name,
        checkpoint=str(loaded.checkpoint),
        checkpoint_epoch=loaded.epoch,
        data=data.scan.source,
        split_fingerprint=data.fingerprint,
        checkpoint_fingerprint=loaded.split_fingerprint,
        classes=list(loaded.classes),
        config=loaded.config.to_dict(),
        **metrics,
    )
    hwc = images.permute(0, 2, 3, 1).contiguous().numpy()
    evaluation = Evaluation(
        report=report_,
        loaded=loaded,
        classes=list(loaded.classes),
        paths=paths,
        labels=labels,
        probabilities=probabilities,
        predictions=predictions,
        losses=losses,
        images=hwc,
        misclassified=[],
        explanations=[],
    )
    wrong = np.flatnonzero(predictions != labels)
    ranked = wrong[np.argsort(-losses[wrong], kind="stable")]
    evaluation.misclassified = [evaluation.prediction(int(p)) for p in ranked]
    worst = evaluation.misclassified[:explained]
    if worst:
        positions = [w.position for w in worst]
        cams_true = explain_images(loaded, hwc[positions], [w.true for w in worst])
        cams_pred = explain_images(loaded, hwc[positions], [w.predicted for w in worst])
        evaluation.explanations = [
            Explanation(w, t, p) for w, t, p in zip(worst, cams_true, cams_pred, strict=True)
        ]
    return evaluation


def evaluate_source(
    source: str | Path,
    *,
    data: str | None = None,
    cache_dir: str | None = None,
    device: str | torch.device = "cpu",
    explained: int = EXPLAINED,
    progress: ProgressFn | None = None,
) -> Evaluation:
    """Load ``source`` (run directory or checkpoint), prepare its test data and evaluate it.

    ``data`` replaces the data path saved in the config (e.g. the same set moved elsewhere).
    """
    loaded = load_model(source, device=device)
    config = evaluation_data_config(loaded, data, cache_dir)
    prepared = prepare_data(config, progress)
    return evaluate(loaded, prepared, explained=explained, progress=progress)


__all__ = [
    "ClassMetrics",
    "ConfusedPair",
    "Evaluation",
    "Explanation",
    "LoadedModel",
    "Prediction",
    "TestReport",
    "architecture_mismatch",
    "check_classes",
    "compute_test_metrics",
    "evaluate",
    "evaluate_source",
    "evaluation_data_config",
    "explain_images",
    "load_model",
    "predict",
    "read_checkpoint",
    "resolve_checkpoint",
]
