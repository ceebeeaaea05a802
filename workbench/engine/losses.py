"""Loss functions on one-hot (or soft) targets, in one registry.

Every loss takes ``logits`` of shape (B, C) and ``targets`` of shape (B, C) (rows are
probability vectors, one-hot from the data loader) and returns the mean loss over the batch.
Each entry's docstring's first line says when it helps; the TUI and the exports show it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from workbench.config import TrainConfig


class CrossEntropy(nn.Module):
    """Helps as the default: the log-likelihood of the true class; well calibrated, fast to fit."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=1)
        return -(targets * log_p).sum(dim=1).mean()


class LabelSmoothing(nn.Module):
    """Helps against over-confidence and noisy labels: the target keeps ε of its mass spread evenly.

    The target becomes ``(1-ε)·y + ε/C`` and the loss is the cross-entropy against it.
    """

    def __init__(self, smoothing: float = 0.1) -> None:
        super().__init__()
        self.smoothing = smoothing

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        classes = logits.shape[1]
        soft = targets * (1.0 - self.smoothing) + self.smoothing / classes
        log_p = F.log_softmax(logits.float(), dim=1)
        return -(soft * log_p).sum(dim=1).mean()


class FocalLoss(nn.Module):
    """Helps when easy examples swamp the hard ones: down-weights confident hits by (1-p)^γ.

    ``FL = -Σ_c y_c (1 - p_c)^γ log p_c`` (Lin et al. 2017); γ = 0 is the cross-entropy.
    """

    def __init__(self, gamma: float = 2.0) -> None:
        super().__init__()
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits.float(), dim=1)
        weight = (1.0 - log_p.exp()).pow(self.gamma)
        return -(targets * weight * log_p).sum(dim=1).mean()


class BrierLoss(nn.Module):
    """Helps when calibrated probabilities matter: bounded, robust to outliers, slower to fit.

    The Brier score (mean squared error of the softmax against the one-hot target), summed over
    the classes and averaged over the batch.
    """

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits.float(), dim=1)
        return (probs - targets).pow(2).sum(dim=1).mean()


@dataclass(frozen=True)
class LossSpec:
    """A registry entry: the name used in configs, the factory, and the one-line reason."""

    name: str
    title: str
    build: Callable[[TrainConfig], nn.Module]
    cls: type[nn.Module]

    @property
    def reason(self) -> str:
        """The first line of the loss's docstring: when it helps."""
        return (self.cls.__doc__ or "").strip().splitlines()[0]


REGISTRY: dict[str, LossSpec] = {
    "ce": LossSpec("ce", "cross-entropy", lambda _c: CrossEntropy(), CrossEntropy),
    "label_smoothing": LossSpec(
        "label_smoothing",
        "label smoothing",
        lambda c: LabelSmoothing(c.label_smoothing),
        LabelSmoothing,
    ),
    "focal": LossSpec("focal", "focal", lambda c: FocalLoss(c.focal_gamma), FocalLoss),
    "brier": LossSpec("brier", "Brier (MSE on softmax)", lambda _c: BrierLoss(), BrierLoss),
}


def build_loss(config: TrainConfig) -> nn.Module:
    """The loss module named by ``config.loss``, with its parameters from ``config``."""
    return REGISTRY[config.loss].build(config)


def describe_losses() -> dict[str, str]:
    """name -> one-line reason, for help texts and the TUI."""
    return {name: spec.reason for name, spec in REGISTRY.items()}
