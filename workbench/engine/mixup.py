"""Mixup and CutMix for ``--mixup ALPHA`` and ``--cutmix ALPHA``: train on blends of two images.

Mixup (Zhang et al. 2018) replaces each training batch by ``λ·x + (1-λ)·x[perm]`` and its
targets by ``λ·y + (1-λ)·y[perm]``, with ``perm`` a shuffle of the batch and ``λ ~ Beta(α, α)``
drawn once per batch. CutMix (Yun et al. 2019) pastes a box of ``x[perm]`` into ``x`` instead,
and ``λ`` becomes the share of the image left uncovered. Either keeps a small data set from being
memorised: the network never sees the same input twice and learns linear behaviour between
classes. With both on, each batch uses one of them, chosen with even odds.

Every loss of :mod:`workbench.engine.losses` takes soft targets. Cross-entropy, label smoothing
and focal are linear in the target, so the loss of the mixed target equals
``λ·loss(y) + (1-λ)·loss(y[perm])``; Brier measures the distance to the mixed distribution.

The draws (the choice, ``λ``, ``perm``, the box) are a pure function of (seed, epoch, batch),
like the loader's order and augmentation, and never touch the global RNGs: a run stopped at any
batch and resumed mixes the same. Train accuracy counts a prediction right when it names the
dominant class of the mixed target (the image's own class when ``λ ≥ 0.5``): the argmax that
:class:`~workbench.engine.metrics.MetricAccumulator` takes of any soft target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from workbench.config import TrainConfig
from workbench.engine.loader import mix_seed

STREAM = 2
"""The draws' stream in ``mix_seed(seed, epoch, STREAM, batch)``: the loader's order uses 0 and
its augmentation 1, so the three never share random numbers."""


@dataclass(frozen=True)
class MixDraw:
    """What one batch is mixed with."""

    lam: float
    """The share of each image's own target in its mixed target."""
    perm: torch.Tensor
    """The partner of each image: a permutation of the batch (int64, on the CPU)."""
    box: tuple[int, int, int, int] | None
    """CutMix: (top, bottom, left, right) of the box taken from the partner; None: mixup."""


class BatchMixer:
    """Mixes training batches (mixup with ``mixup`` > 0, CutMix with ``cutmix`` > 0)."""

    def __init__(self, mixup: float, cutmix: float, seed: int) -> None:
        self.mixup, self.cutmix, self.seed = mixup, cutmix, seed

    def draw(self, epoch: int, batch: int, size: int, side: int) -> MixDraw:
        """The mixing of batch ``batch`` of ``epoch``: ``size`` images of ``side`` px."""
        rng = np.random.default_rng(mix_seed(self.seed, epoch, STREAM, batch))
        cut = self.cutmix > 0 and (self.mixup == 0 or rng.random() < 0.5)
        alpha = self.cutmix if cut else self.mixup
        lam = float(rng.beta(alpha, alpha))
        perm = torch.from_numpy(rng.permutation(size))
        if not cut:
            return MixDraw(lam, perm, None)
        half = int(side * np.sqrt(1.0 - lam)) / 2
        cy, cx = (int(v) for v in rng.integers(0, side, size=2))
        top, bottom = int(max(cy - half, 0)), int(min(cy + half, side))
        left, right = int(max(cx - half, 0)), int(min(cx + half, side))
        covered = (bottom - top) * (right - left) / side**2
        return MixDraw(1.0 - covered, perm, (top, bottom, left, right))

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, epoch: int, batch: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``batch`` of ``epoch`` (images (B, 3, S, S), soft targets (B, C)) mixed."""
        return mix(x, y, self.draw(epoch, batch, x.shape[0], x.shape[-1]))


def mix(x: torch.Tensor, y: torch.Tensor, draw: MixDraw) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` and ``y`` mixed as ``draw`` says (new tensors; the inputs are left as they were)."""
    perm = draw.perm.to(x.device)
    if draw.box is None:
        mixed = x.lerp(x[perm], 1.0 - draw.lam)
    else:
        top, bottom, left, right = draw.box
        mixed = x.clone()
        mixed[:, :, top:bottom, left:right] = x[perm, :, top:bottom, left:right]
    return mixed, y.lerp(y[perm], 1.0 - draw.lam)


def build_mixer(config: TrainConfig, seed: int) -> BatchMixer | None:
    """The mixer ``config`` asks for; None when mixup and CutMix are both off."""
    if config.mixup == 0 and config.cutmix == 0:
        return None
    return BatchMixer(config.mixup, config.cutmix, seed)
