"""``--mixup``/``--cutmix``: the mixed batch and loss against their definitions, pure draws, and
a mixed run stopped mid-epoch that resumes to the same rows."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.support.tiny_loop import StopAtCall, tiny_config, tiny_data
from workbench.engine import mixup
from workbench.engine.checkpoint import load_checkpoint
from workbench.engine.loader import one_hot
from workbench.engine.loop import StopFlag, fit
from workbench.engine.losses import CrossEntropy, FocalLoss, LabelSmoothing
from workbench.engine.metrics import MetricAccumulator
from workbench.engine.mixup import BatchMixer

torch.set_num_threads(1)


def _batch(size: int = 8, side: int = 16, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(size, 3, side, side, generator=generator)
    labels = torch.randint(0, classes, (size,), generator=generator)
    return x, one_hot(labels, classes)


def test_mixup_blends_each_image_and_target_with_its_partner() -> None:
    x, y = _batch()
    mixer = BatchMixer(0.2, 0.0, seed=42)
    draw = mixer.draw(3, 5, x.shape[0], x.shape[-1])
    mixed_x, mixed_y = mixer(x, y, 3, 5)
    lam, perm = draw.lam, draw.perm
    assert draw.box is None and 0 < lam < 1 and sorted(perm.tolist()) == list(range(8))
    torch.testing.assert_close(mixed_x, lam * x + (1 - lam) * x[perm])
    torch.testing.assert_close(mixed_y, lam * y + (1 - lam) * y[perm])


def test_cutmix_pastes_a_box_of_the_partner_and_mixes_targets_by_area() -> None:
    x, y = _batch(side=32)
    mixer = BatchMixer(0.0, 1.0, seed=42)
    for batch in range(6):
        draw = mixer.draw(1, batch, 8, 32)
        assert draw.box is not None
        top, bottom, left, right = draw.box
        mixed_x, mixed_y = mixer(x, y, 1, batch)
        inside = torch.zeros(32, 32, dtype=torch.bool)
        inside[top:bottom, left:right] = True
        assert torch.equal(mixed_x[:, :, inside], x[draw.perm][:, :, inside])
        assert torch.equal(mixed_x[:, :, ~inside], x[:, :, ~inside])
        assert draw.lam == pytest.approx(1 - inside.float().mean().item())
        torch.testing.assert_close(mixed_y, draw.lam * y + (1 - draw.lam) * y[draw.perm])


def test_with_both_on_batches_use_one_or_the_other() -> None:
    mixer = BatchMixer(0.2, 1.0, seed=42)
    kinds = {mixer.draw(1, batch, 8, 32).box is None for batch in range(20)}
    assert kinds == {True, False}


@pytest.mark.parametrize("loss", [CrossEntropy(), LabelSmoothing(0.1), FocalLoss(2.0)])
def test_the_loss_of_a_mixed_target_is_the_mix_of_the_losses(loss: nn.Module) -> None:
    x, y = _batch()
    logits = torch.randn(8, 3, generator=torch.Generator().manual_seed(2))
    draw = BatchMixer(0.2, 0.0, seed=7).draw(1, 0, 8, 16)
    _mixed_x, mixed_y = mixup.mix(x, y, draw)
    lam, perm = draw.lam, draw.perm
    expected = lam * loss(logits, y) + (1 - lam) * loss(logits, y[perm])
    torch.testing.assert_close(loss(logits, mixed_y), expected)


def test_train_accuracy_counts_the_dominant_target() -> None:
    x, y = _batch()
    draw = BatchMixer(0.2, 0.0, seed=7).draw(1, 0, 8, 16)
    _mixed_x, mixed_y = mixup.mix(x, y, draw)
    dominant = y if draw.lam >= 0.5 else y[draw.perm]
    accumulator = MetricAccumulator(3)
    accumulator.update(torch.tensor(0.0), dominant, mixed_y)  # logits that name the dominant
    assert accumulator.compute().accuracy == 1.0


def test_draws_are_a_pure_function_of_seed_epoch_and_batch() -> None:
    def draw(seed: int, epoch: int, batch: int) -> tuple[float, list[int]]:
        made = BatchMixer(0.2, 0.0, seed).draw(epoch, batch, 16, 32)
        return made.lam, made.perm.tolist()

    states = torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
    assert draw(42, 2, 3) == draw(42, 2, 3)
    others = [draw(42, 2, 4), draw(42, 3, 3), draw(1, 2, 3)]
    assert all(other != draw(42, 2, 3) for other in others)
    assert torch.equal(torch.get_rng_state(), states[0])  # the global RNGs are left alone
    assert np.array_equal(np.random.get_state()[1], states[1]) and random.getstate() == states[2]


def _rows(path: Path) -> list[list[str]]:
    return [line.split("\t")[:-1] for line in path.read_text().splitlines()]


def test_a_mixed_run_stopped_mid_epoch_resumes_to_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tiny_config(epochs=3, mixup=0.4, cutmix=1.0)
    data = tiny_data()
    mixed: list[int] = []
    real_mix = mixup.mix

    def counting(x: torch.Tensor, y: torch.Tensor, draw: mixup.MixDraw) -> object:
        mixed.append(x.shape[0])
        return real_mix(x, y, draw)

    monkeypatch.setattr(mixup, "mix", counting)
    fit(config, data, tmp_path / "whole")
    assert mixed == [8, 8, 5] * 3  # every training batch, no validation batch
    stop = StopFlag()
    first = fit(config, data, tmp_path / "split", stop=stop, loss_fn=StopAtCall(stop, 5))
    assert first.state == "stopped"
    last = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert (last["epoch"], last["batch"]) == (1, 2)
    assert fit(config, data, tmp_path / "split", resume=True).state == "finished"
    for split in ("train", "val"):
        whole = _rows(tmp_path / "whole" / "metrics" / f"{split}.txt")
        assert _rows(tmp_path / "split" / "metrics" / f"{split}.txt") == whole
