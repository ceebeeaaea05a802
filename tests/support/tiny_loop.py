"""Tiny in-memory data and configs for the training-engine tests (no files, no decoding)."""

from __future__ import annotations

import torch
from torch import nn

from workbench.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from workbench.engine.epoch_metrics import EpochMetrics
from workbench.engine.loop import StopFlag
from workbench.engine.losses import CrossEntropy
from workbench.engine.prepared import PreparedData
from workbench.engine.scan import ScanResult
from workbench.engine.split import split_dataset

CLASSES = ("cats", "dogs", "panda")


def tiny_data(per_class: int = 10, size: int = 64, seed: int = 0) -> PreparedData:
    """``per_class`` images per class; each class has its own colour, so a model can learn it."""
    generator = torch.Generator().manual_seed(seed)
    paths, labels, images = [], [], []
    for label, name in enumerate(CLASSES):
        for i in range(per_class):
            paths.append(f"{name}/{name}_{i:04d}.png")
            labels.append(label)
            noise = torch.randint(0, 96, (3, size, size), generator=generator)
            noise[label] += 120
            images.append(noise.to(torch.uint8))
    scan = ScanResult("memory", list(CLASSES), paths, labels, [], "tiny")
    split = split_dataset(scan, 42)
    return PreparedData(
        config=DataConfig(image_size=size),
        scan=scan,
        split=split,
        images=torch.stack(images),
        labels=torch.tensor(labels, dtype=torch.int64),
        mean=(0.4, 0.4, 0.4),
        std=(0.25, 0.25, 0.25),
    )


TINY_TRAIN: dict[str, object] = {
    "epochs": 3,
    "batch_size": 8,
    "lr": 3e-3,
    "device": "cpu",
    "num_workers": 0,
    "warmup_epochs": 1,
}
"""A few short epochs on the CPU, in this process: the training options of every tiny run."""


def tiny_config(**train: object) -> RunConfig:
    """An 8-channel stem and two residual 8/16-channel stages, a few epochs on the CPU."""
    options: dict[str, object] = {**TINY_TRAIN, **train}
    return RunConfig(
        data=DataConfig(image_size=64, augment="builtin"),
        model=ModelConfig(widths=(8, 16), convs_per_stage=1, dropout=0.2, stem=8),
        train=TrainConfig(**options),  # type: ignore[arg-type]
    ).validate()


METRICS = EpochMetrics(0.5, 0.75, 0.7, 0.72, 0.71, (0.6, 0.8), (0.7, 0.74), 40)


class StopAtCall(nn.Module):
    """Cross-entropy that asks the loop to stop at its n-th training (or validation) call:
    a stop at an exact batch, for the tests of stopping and resuming."""

    def __init__(self, stop: StopFlag | None, at: int, *, phase: str = "train") -> None:
        super().__init__()
        self.inner, self.stop, self.at, self.phase = CrossEntropy(), stop, at, phase
        self.calls = 0

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() == (self.phase == "train"):
            self.calls += 1
            if self.stop is not None and self.calls == self.at:
                self.stop.request("test")
        return self.inner(logits, targets)
