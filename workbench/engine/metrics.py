"""Per-epoch classification metrics (scikit-learn) and the confusion matrix.

The loop accumulates the predicted and true class indices of an epoch with
:class:`MetricAccumulator` and turns them into an :class:`EpochMetrics` (loss, accuracy, macro
precision/recall/F1 with ``zero_division=0``, per-class precision and recall).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from workbench.engine.epoch_metrics import EpochMetrics


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, loss: float
) -> EpochMetrics:
    """Metrics of integer predictions ``y_pred`` against ``y_true`` (both shape (N,))."""
    labels = list(range(num_classes))
    if len(y_true) == 0:
        zeros = tuple(0.0 for _ in labels)
        return EpochMetrics(loss, 0.0, 0.0, 0.0, 0.0, zeros, zeros, 0)
    precision, recall, _f1, _support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    macro_p, macro_r, macro_f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0
    )
    return EpochMetrics(
        loss=float(loss),
        accuracy=float(accuracy_score(y_true, y_pred)),
        precision=float(macro_p),
        recall=float(macro_r),
        f1=float(macro_f1),
        per_class_precision=tuple(float(v) for v in precision),
        per_class_recall=tuple(float(v) for v in recall),
        count=len(y_true),
    )


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion matrix (C, C): rows are true classes, columns predicted classes."""
    return np.asarray(confusion_matrix(y_true, y_pred, labels=list(range(num_classes))))


class MetricAccumulator:
    """Collects one epoch's losses and predictions batch by batch (no host sync per batch).

    ``loss`` is the batch's mean loss; it is weighted by the batch size. Values stay on the
    device until :meth:`compute`, so the training loop does not stall on every batch.
    """

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self._loss_sums: list[torch.Tensor] = []
        self._preds: list[torch.Tensor] = []
        self._trues: list[torch.Tensor] = []
        self.count = 0

    def update(self, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> None:
        """``targets`` are one-hot (or soft) rows; the true class is their argmax."""
        batch = logits.shape[0]
        self._loss_sums.append(loss.detach().float() * batch)
        self._preds.append(logits.detach().argmax(dim=1))
        self._trues.append(targets.argmax(dim=1) if targets.dim() == 2 else targets)
        self.count += batch

    def compute(self) -> EpochMetrics:
        if self.count == 0:
            return classification_metrics(np.array([]), np.array([]), self.num_classes, 0.0)
        # One reduction in float64 in batch order: the same numbers give the same digits.
        loss_sum = float(torch.stack(self._loss_sums).double().sum().item())
        y_pred = torch.cat(self._preds).cpu().numpy()
        y_true = torch.cat(self._trues).cpu().numpy()
        return classification_metrics(y_true, y_pred, self.num_classes, loss_sum / self.count)

    def running_loss(self) -> float:
        """Mean loss so far (one host sync)."""
        if self.count == 0:
            return 0.0
        return float(torch.stack(self._loss_sums).sum().item()) / self.count

    def state_dict(self) -> dict[str, Any]:
        """The partial sums, as tensors (for a checkpoint written mid-epoch)."""
        empty = torch.zeros(0)
        return {
            "num_classes": self.num_classes,
            "loss_sums": torch.stack(self._loss_sums).cpu() if self._loss_sums else empty,
            "preds": torch.cat(self._preds).cpu() if self._preds else empty.long(),
            "trues": torch.cat(self._trues).cpu() if self._trues else empty.long(),
            "count": self.count,
        }

    @classmethod
    def merged(cls, states: list[dict[str, Any]]) -> MetricAccumulator:
        """One accumulator holding the sums of several :meth:`state_dict` (those of the
        processes of a distributed run), on the CPU."""
        acc = cls(int(states[0]["num_classes"]))
        for state in states:
            acc._loss_sums += list(state["loss_sums"].unbind(0))
            acc._preds.append(state["preds"])
            acc._trues.append(state["trues"])
            acc.count += int(state["count"])
        return acc

    @classmethod
    def from_state_dict(
        cls, state: dict[str, Any], device: torch.device | str = "cpu"
    ) -> MetricAccumulator:
        """The partial sums of :meth:`state_dict`, on ``device``: the device the epoch goes
        on training on, whose batches will join them (a checkpoint is read onto the CPU)."""
        acc = cls(int(state["num_classes"]))
        acc._loss_sums = list(state["loss_sums"].to(device).unbind(0))
        acc._preds = [state["preds"].to(device)]
        acc._trues = [state["trues"].to(device)]
        acc.count = int(state["count"])
        return acc
