"""``--precise-bn``: BatchNorm statistics recomputed on clean training images, against a
hand computation of each layer's input, and the loop's use of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.support.tiny_loop import StopAtCall, tiny_config, tiny_data
from workbench.config import ConfigError, TrainConfig
from workbench.engine.checkpoint import load_checkpoint
from workbench.engine.device import setup_device
from workbench.engine.loader import BatchLoader
from workbench.engine.loop import StopFlag, fit, validate
from workbench.engine.losses import CrossEntropy
from workbench.engine.model import build_model
from workbench.engine.precise_bn import CleanBatches, recalibrate

torch.set_num_threads(1)


def _stats(x: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's mean and unbiased variance per channel, in float64."""
    x = x.double()
    return x.mean(dims), x.var(dims, unbiased=True)


def test_statistics_are_the_average_of_each_clean_batch() -> None:
    """Oracle: the two BatchNorm layers' inputs computed by hand in float64 (the first layer
    normalising with each batch's own statistics, dropout off), each batch's mean and unbiased
    variance, averaged over the batches with equal weights."""
    torch.manual_seed(0)
    conv, bn2d = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)
    linear, bn1d = nn.Linear(4 * 6 * 6, 5), nn.BatchNorm1d(5)
    model = nn.Sequential(conv, bn2d, nn.ReLU(), nn.Dropout(0.9), nn.Flatten(), linear, bn1d)
    with torch.no_grad():
        bn2d.weight.uniform_(0.5, 1.5)
        bn2d.bias.uniform_(-0.5, 0.5)
    batches = [torch.randn(n, 3, 8, 8) * 2 + 1 for n in (6, 6, 3)]
    weights = [p.detach().clone() for p in model.parameters()]
    model.train()

    layers = recalibrate(model, batches, nullcontext)

    assert layers == 2
    first, second = [], []
    for x in batches:
        h = conv.double()(x.double())
        first.append(_stats(h, (0, 2, 3)))
        mean, var = h.mean((0, 2, 3), keepdim=True), h.var((0, 2, 3), unbiased=False, keepdim=True)
        w, b = bn2d.weight.double().view(1, -1, 1, 1), bn2d.bias.double().view(1, -1, 1, 1)
        h = torch.relu((h - mean) / torch.sqrt(var + bn2d.eps) * w + b)
        second.append(_stats(linear.double()(h.flatten(1)), (0,)))
    for layer, stats in ((bn2d, first), (bn1d, second)):
        expected_mean = torch.stack([m for m, _ in stats]).mean(0)
        expected_var = torch.stack([v for _, v in stats]).mean(0)
        torch.testing.assert_close(layer.running_mean.double(), expected_mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(layer.running_var.double(), expected_var, rtol=1e-5, atol=1e-6)
        assert layer.momentum == 0.1 and int(layer.num_batches_tracked) == 0
    model.float()
    assert model.training
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters(), strict=True))


def test_a_model_without_batch_norm_runs_nothing() -> None:
    def never() -> Iterator[torch.Tensor]:
        raise AssertionError("no batch should be made")
        yield torch.zeros(1)

    assert recalibrate(nn.Sequential(nn.Linear(2, 2)), never(), nullcontext) == 0


def test_clean_batches_are_a_fixed_subset_of_unaugmented_training_images() -> None:
    data = tiny_data()
    loader = BatchLoader(
        data, "train", batch_size=8, shuffle=True, augment="none", seed=42, device="cpu"
    )
    clean = CleanBatches(loader, 10)
    first, again = list(clean), list(clean)
    assert len(clean) == 2 and [x.shape[0] for x in first] == [8, 8]  # 10 rounds up to 2 batches
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    mean = torch.tensor(data.mean).view(1, 3, 1, 1)
    std = torch.tensor(data.std).view(1, 3, 1, 1)
    train = (data.images[data.subset_indices("train")].float() / 255 - mean) / std
    for x in torch.cat(first):  # each one is a training image, untouched but normalised
        assert any(torch.allclose(x, image, atol=1e-5) for image in train)
    assert len(CleanBatches(loader, 10_000)) == 3  # at most the whole split (21 images)
    with pytest.raises(ValueError, match="without augmentation"):
        CleanBatches(
            BatchLoader(data, "train", batch_size=8, shuffle=True, augment="builtin", seed=42,
                        device="cpu"),
            8,
        )  # fmt: skip


def test_a_run_validates_with_the_statistics_of_the_clean_images(tmp_path: Path) -> None:
    """A fresh recomputation on last.pt's weights gives the buffers last.pt holds, and
    validating that model gives the run's last row."""
    config = tiny_config(epochs=2, mixup=0.4, precise_bn=16)
    data = tiny_data()
    result = fit(config, data, tmp_path / "run")
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["model"]
    setup = setup_device("cpu", amp=config.train.amp)  # as the run: same layout, precision
    model = build_model(config.model, data.num_classes)
    model.load_state_dict(saved)
    if setup.channels_last:
        model = model.to(memory_format=torch.channels_last)
    for layer in model.modules():  # forget the statistics, keep the weights
        if isinstance(layer, nn.BatchNorm2d):
            layer.reset_running_stats()

    def unaugmented(split: str) -> BatchLoader:
        return BatchLoader(
            data,
            split,
            batch_size=8,
            shuffle=split == "train",
            augment="none",
            seed=42,
            device=setup.device,
            channels_last=setup.channels_last,
        )

    recalibrate(model, CleanBatches(unaugmented("train"), 16), setup.autocast)
    for name, value in model.state_dict().items():
        if "running" in name:
            torch.testing.assert_close(value, saved[name], rtol=1e-5, atol=1e-6)
    metrics = validate(model.eval(), unaugmented("val"), CrossEntropy(), setup, data.num_classes)
    assert metrics is not None
    assert metrics.accuracy == result.history[-1].val.accuracy
    assert metrics.loss == pytest.approx(result.history[-1].val.loss, rel=1e-5)


@pytest.mark.parametrize(("phase", "call"), [("train", 5), ("val", 2)])
def test_a_run_stopped_mid_epoch_resumes_to_the_same_rows(
    tmp_path: Path, phase: str, call: int
) -> None:
    """Stopped in epoch 2's training, and in its validation (after the statistics were
    recomputed, so the resumed run recomputes them from the saved ones)."""
    config = tiny_config(epochs=3, mixup=0.4, precise_bn=8)
    data = tiny_data()
    fit(config, data, tmp_path / "whole")
    stop = StopFlag()
    first = fit(
        config, data, tmp_path / "split", stop=stop, loss_fn=StopAtCall(stop, call, phase=phase)
    )
    assert first.state == "stopped"
    assert fit(config, data, tmp_path / "split", resume=True).state == "finished"
    for split in ("train", "val"):
        whole = (tmp_path / "whole" / "metrics" / f"{split}.txt").read_text().splitlines()
        resumed = (tmp_path / "split" / "metrics" / f"{split}.txt").read_text().splitlines()
        assert [r.split("\t")[:-1] for r in resumed] == [r.split("\t")[:-1] for r in whole]
    for name in ("last", "best"):
        a = load_checkpoint(tmp_path / "whole" / "checkpoints" / f"{name}.pt")["model"]
        b = load_checkpoint(tmp_path / "split" / "checkpoints" / f"{name}.pt")["model"]
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_option_takes_a_count_of_images() -> None:
    with pytest.raises(ConfigError, match="precise_bn"):
        TrainConfig(precise_bn=-1).validate()
