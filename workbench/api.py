"""The workbench from Python: what a notebook's cells call, one or two lines each.

Open a run, load its model on the fly, evaluate it, and draw any figure of the assignment::

    from workbench import api

    run = api.open_run("runs/20261201-120000-animals-s128")
    data = api.load_data(run)                 # the run's split, decoded once into the cache
    model = api.load_model(run)               # best.pt, torch.load(weights_only=True)
    evaluation = api.evaluate(model, data)    # the untouched test split
    api.confusion_matrix(evaluation)          # a matplotlib Figure: Jupyter shows it inline

Every figure function returns a :class:`matplotlib.figure.Figure`, and ``workbench --export``
saves these very figures, so a notebook cell and an exported PNG never differ. Importing this
module imports neither Textual nor torch; each function imports what it needs when called.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.engine.runs import Run, open_run

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

    from workbench.engine.autograd import AutogradTrace
    from workbench.engine.backprop_demo import BackpropReport
    from workbench.engine.epoch_metrics import EpochMetrics
    from workbench.engine.evaluate import Evaluation, LoadedModel, TestReport
    from workbench.engine.model import ModelSummary
    from workbench.engine.prepared import PreparedData
    from workbench.engine.sweep import SweepSummary

__all__ = [
    "Run",
    "augment_grid",
    "autograd_check_markdown",
    "autograd_graph",
    "autograd_steps_markdown",
    "autograd_trace",
    "backprop",
    "backprop_check_markdown",
    "confusion_grid",
    "confusion_matrix",
    "evaluate",
    "first10",
    "load_data",
    "load_model",
    "loader_batch",
    "loss_comparison",
    "metric_plot",
    "misclassified",
    "model_summary",
    "model_table_markdown",
    "newest_run",
    "open_run",
    "random_probabilities",
    "read_sweep",
    "split_grid",
    "state_hashes",
    "sweep_plot",
    "test_report_text",
    "validate",
    "vanishing_gradient",
]


# ------------------------------------------------------------------------------ runs, data


def newest_run(data: str | None = None, root: str | Path = "runs") -> Run | None:
    """The newest finished run under ``root`` with a best checkpoint, trained on ``data``
    (a folder or zip path; None: any data), or None."""
    from workbench.engine.run_query import ANY_DATA, newest_finished_run

    wanted = str(Path(data).expanduser().resolve()) if data is not None else ANY_DATA
    return newest_finished_run(root, wanted)


def load_data(
    source: Run | LoadedModel | str | Path, *, data: str | None = None, cache_dir: str | None = None
) -> PreparedData:
    """The decoded images and split of a run (or of a loaded model's run): the same images,
    size and split it was trained on. ``data`` replaces the saved data path (a moved folder)."""
    from workbench.engine.data import prepare_data
    from workbench.engine.evaluate import LoadedModel

    if isinstance(source, LoadedModel):
        config = source.config.data
    else:
        run = source if isinstance(source, Run) else open_run(source)
        config = run.config().data
    changes: dict[str, Any] = {}
    if data is not None:
        changes["data"] = str(Path(data).expanduser().resolve())
    if cache_dir is not None:
        changes["cache_dir"] = cache_dir
    return prepare_data(dataclasses.replace(config, **changes))


def load_model(source: Run | str | Path, *, device: str = "cpu") -> LoadedModel:
    """A run's ``best.pt`` (or a checkpoint file), loaded with ``weights_only=True`` and put in
    eval mode on ``device``."""
    from workbench.engine.evaluate import load_model as load

    return load(source.path if isinstance(source, Run) else source, device=device)


def evaluate(model: LoadedModel, data: PreparedData, *, explained: int = 8) -> Evaluation:
    """Predict the test split: metrics, confusion matrix, misclassified images (the worst
    ``explained`` with Grad-CAM for their true and predicted class)."""
    from workbench.engine.evaluate import evaluate as run_evaluation

    return run_evaluation(model, data, explained=explained)


def read_sweep(folder: str | Path) -> SweepSummary:
    """A sweep folder's grid and runs (``runs/sweep-<id>/``)."""
    from workbench.engine.sweep import read_sweep as read

    return read(Path(folder))


# --------------------------------------------------------------------------- model, loader


def loader_batch(
    data: PreparedData, *, split: str = "train", batch_size: int = 8, augment: str = "builtin"
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of the training loader, as the training loop sees it: images (B, 3, S, S)
    normalised, and one-hot targets (B, C)."""
    import torch

    from workbench.engine.loader import BatchLoader

    loader = BatchLoader(
        data,
        split,
        batch_size=batch_size,
        shuffle=split == "train",
        augment=augment if split == "train" else "none",
        seed=data.config.seed,
        device=torch.device("cpu"),
        num_workers=0,
        prefetch=False,
    )
    return next(iter(loader))


def model_summary(model: LoadedModel) -> ModelSummary:
    """Every layer's output shape, parameters and multiply-adds for one image, and totals."""
    from workbench.engine.model import summarize

    return summarize(model.model, model.image_size)


def state_hashes(module: torch.nn.Module) -> dict[str, str]:
    """sha256 of every parameter and buffer (BatchNorm's running statistics included): two
    calls agree exactly when no tensor changed."""
    return {
        name: hashlib.sha256(tensor.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
        for name, tensor in _tensors(module)
    }


def _tensors(module: torch.nn.Module) -> Iterable[tuple[str, torch.Tensor]]:
    yield from module.named_parameters()
    yield from module.named_buffers()


def validate(model: LoadedModel, data: PreparedData, *, batch_size: int = 64) -> EpochMetrics:
    """One validation pass exactly as training runs it (the loop's own ``validate``: eval
    mode, ``torch.inference_mode``, no optimiser) on the validation split."""
    from workbench.config import TrainConfig
    from workbench.engine.device import setup_device
    from workbench.engine.loader import BatchLoader
    from workbench.engine.loop import validate as validation_pass
    from workbench.engine.losses import build_loss

    setup = setup_device(str(model.device), amp=False)
    loader = BatchLoader(
        data,
        "val",
        batch_size=batch_size,
        shuffle=False,
        augment="none",
        seed=data.config.seed,
        device=setup.device,
        num_workers=0,
        prefetch=False,
    )
    loss = build_loss(TrainConfig(loss=model.config.train.loss)).to(setup.device)
    metrics = validation_pass(model.model, loader, loss, setup, data.num_classes)
    assert metrics is not None  # no on_batch callback: the pass is never abandoned
    return metrics


# ---------------------------------------------------------------------------- Q1 and Q2


def autograd_trace(
    x: str | None = None, z: str | None = None, expression: str | None = None
) -> AutogradTrace:
    """Q1: the graph PyTorch's autograd builds for ``expression`` (default: the assignment's),
    stepped forward and backward by hand and compared with ``.grad``."""
    from workbench.engine.autograd import DEFAULT_EXPRESSION, DEFAULT_X, DEFAULT_Z
    from workbench.engine.autograd.trace import trace_expression

    return trace_expression(
        x if x is not None else DEFAULT_X,
        z if z is not None else DEFAULT_Z,
        expression if expression is not None else DEFAULT_EXPRESSION,
    )


def backprop(trials: int = 5, seed: int = 0) -> BackpropReport:
    """Q2: the delta-rule derivation, its check against autograd on ``trials`` random
    networks, and the cases where the gradient vanishes."""
    from workbench.engine.backprop_demo import backprop_report

    return backprop_report(trials=trials, seed=seed)


def autograd_steps_markdown(trace: AutogradTrace) -> str:
    """Q1: the forward and backward steps as a Markdown table (``display(Markdown(...))``)."""
    from workbench.engine.export.autograd import autograd_steps_markdown as steps

    return steps(trace)


def autograd_check_markdown(trace: AutogradTrace) -> str:
    """Q1: hand-style gradients against autograd's, as Markdown."""
    from workbench.engine.export.autograd import autograd_check_markdown as check

    return check(trace)


def backprop_check_markdown(report: BackpropReport) -> str:
    """Q2: the delta rule against autograd on random networks, as a Markdown table."""
    from workbench.engine.export.backprop import backprop_check_markdown as check

    return check(report)


def model_table_markdown(summary: ModelSummary) -> str:
    """Q3 c: the layer table (layer, output shape, parameters, multiply-adds) and totals."""
    rows = [
        f"| `{layer.name}` | {layer.kind} | {' × '.join(map(str, layer.output_shape))} | "
        f"{layer.params:,} | {layer.mult_adds:,} |"
        for layer in summary.layers
    ]
    return "\n".join(
        [
            "| layer | kind | output shape | parameters | mult-adds |",
            "|---|---|---|--:|--:|",
            *rows,
            f"| **total** | | {summary.image_size} px input, {summary.num_classes} classes | "
            f"**{summary.total_params:,}** | **{summary.mult_adds:,}** |",
        ]
    )


def test_report_text(report: TestReport) -> str:
    """Q3 h: accuracy, per-class precision, recall and F1, confusion matrix, as plain text."""
    from workbench.engine.export.evaluation import report_text

    return report_text(report)


test_report_text.__test__ = False  # type: ignore[attr-defined]  # a function, not a pytest test


# ------------------------------------------------------------------------------- figures


def autograd_graph(trace: AutogradTrace) -> Figure:
    """Q1: the computation graph autograd built, values and gradients on every node."""
    from workbench.engine.export.autograd import autograd_graph_figure

    return autograd_graph_figure(trace)


def vanishing_gradient() -> Figure:
    """Q2: o(1−o) against net, where the update Δw11 vanishes, and where float32 rounds the
    slope to exactly 0."""
    from workbench.engine.export.backprop import vanishing_gradient_figure

    return vanishing_gradient_figure()


def split_grid(data: PreparedData, per: int = 5) -> Figure:
    """Q3 a: the first ``per`` images of each split for every class."""
    from workbench.engine.export.data import split_grid_figure

    return split_grid_figure(data, per)


def augment_grid(data: PreparedData, backend: str = "builtin", n: int = 8, seed: int = 0) -> Figure:
    """Q3 d: one training image and ``n`` random augmentations (``builtin`` or
    ``albumentations``), each titled with its parameters."""
    from workbench.engine.export.data import augment_grid_figure

    return augment_grid_figure(data, backend, n, seed)


def metric_plot(run: Run, name: str = "accuracy") -> Figure:
    """Q3 f: train and validation ``name`` (loss, accuracy, precision, recall, f1) per epoch."""
    from workbench.engine.export.training import metric_figure

    return metric_figure(run, name)


def sweep_plot(summary: SweepSummary, name: str) -> Figure:
    """Q3 f: a sweep's validation curves and best accuracy against hyper-parameter ``name``."""
    from workbench.engine.export.sweep import sweep_figure

    return sweep_figure(summary, name)


def loss_comparison(runs: Iterable[Run], test_accuracy: dict[str, float] | None = None) -> Figure:
    """Q3 k: validation curves of runs trained with different losses, and their test accuracy
    (``test_accuracy``: run id -> accuracy, where known)."""
    from workbench.engine.export.sweep import LossRun, loss_comparison_figure

    known = test_accuracy or {}
    rows = [
        LossRun(run.config().train.loss, run.id, run.metrics("val"), known.get(run.id))
        for run in runs
    ]
    return loss_comparison_figure(rows)


def confusion_matrix(evaluation: Evaluation) -> Figure:
    """Q3 j: the test confusion matrix, counts and row percentages."""
    from workbench.engine.export.evaluation import confusion_matrix_figure

    return confusion_matrix_figure(evaluation.report)


def confusion_grid(evaluation: Evaluation, seed: int = 0) -> Figure:
    """Q3 j: the confusion matrix with pictures, a test image and its softmax bars per cell."""
    from workbench.engine.export.evaluation import confusion_grid_figure

    return confusion_grid_figure(evaluation, seed)


def first10(evaluation: Evaluation, n: int = 10) -> Figure:
    """Q3 h: the first ``n`` test images of each class with their predictions."""
    from workbench.engine.export.evaluation import first10_figure

    return first10_figure(evaluation, n)


def random_probabilities(evaluation: Evaluation, per_class: int = 6, seed: int = 0) -> Figure:
    """Q3 j: random test images per true class with their softmax scores as bars."""
    from workbench.engine.export.evaluation import random_probabilities_figure

    return random_probabilities_figure(evaluation, per_class, seed)


def misclassified(evaluation: Evaluation) -> Figure:
    """Q3 g: the worst misclassified test images with Grad-CAM for the true and predicted
    class."""
    from workbench.engine.export.evaluation import misclassified_figure

    return misclassified_figure(evaluation)
