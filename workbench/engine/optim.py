"""Optimizers (AdamW, Adam, SGD with Nesterov momentum) and per-batch learning-rate schedules.

Weight decay applies to convolution and linear weights only, never to biases or batch-norm
parameters (decaying those only fights the normalisation). Every schedule is stepped once per
batch, so warm-up is smooth and resuming mid-run restores it exactly from its state dict.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR

from workbench.config import TrainConfig


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """Two groups: weights with ``weight_decay``; biases and norm parameters without."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for param in model.parameters():
        if not param.requires_grad:
            continue
        (decay if param.dim() > 1 else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    groups = parameter_groups(model, config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown optimizer {config.optimizer!r}")


def warmup_cosine(total_steps: int, warmup_steps: int, floor: float = 0.0):  # type: ignore[no-untyped-def]
    """Multiplier of the peak lr at step t: linear warm-up, then half a cosine down to floor."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> LRScheduler:
    """The schedule of ``config.schedule``; call ``.step()`` after every optimizer step."""
    total = max(1, config.epochs * steps_per_epoch)
    if config.schedule == "cosine":
        warmup = min(total - 1, config.warmup_epochs * steps_per_epoch)
        return LambdaLR(optimizer, warmup_cosine(total, warmup, floor=0.01))
    if config.schedule == "onecycle":
        return OneCycleLR(
            optimizer,
            max_lr=config.lr,
            total_steps=total,
            pct_start=0.3,
            cycle_momentum=config.optimizer == "sgd",
        )
    if config.schedule == "none":
        return LambdaLR(optimizer, lambda _step: 1.0)
    raise ValueError(f"unknown schedule {config.schedule!r}")


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
