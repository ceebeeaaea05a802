"""What one epoch's metrics are, as the run directory stores them: no torch, no scikit-learn.

The Runs screen, the event log and the metric files read these without loading the training
stack (:mod:`workbench.engine.metrics` computes them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

METRIC_COLUMNS = ("epoch", "loss", "accuracy", "precision", "recall", "f1", "lr", "seconds")
"""Columns of ``metrics/train.txt`` and ``metrics/val.txt``, in order."""


@dataclass(frozen=True)
class EpochMetrics:
    """One split's metrics for one epoch."""

    loss: float
    """Mean loss per image."""
    accuracy: float
    precision: float
    """Macro-averaged precision (classes without predictions count as 0)."""
    recall: float
    """Macro-averaged recall."""
    f1: float
    """Macro-averaged F1."""
    per_class_precision: tuple[float, ...]
    per_class_recall: tuple[float, ...]
    count: int
    """Images seen."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EpochMetrics:
        return cls(
            loss=float(raw["loss"]),
            accuracy=float(raw["accuracy"]),
            precision=float(raw["precision"]),
            recall=float(raw["recall"]),
            f1=float(raw["f1"]),
            per_class_precision=tuple(float(v) for v in raw["per_class_precision"]),
            per_class_recall=tuple(float(v) for v in raw["per_class_recall"]),
            count=int(raw["count"]),
        )
