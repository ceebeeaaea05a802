"""``--ema``: the averaged weights against a hand-computed average, and the loop's use of them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from tests.support.tiny_loop import StopAtCall, tiny_config, tiny_data
from workbench.engine.checkpoint import load_checkpoint
from workbench.engine.device import setup_device
from workbench.engine.ema import WeightAverage
from workbench.engine.loader import BatchLoader
from workbench.engine.loop import StopFlag, fit, validate
from workbench.engine.losses import CrossEntropy
from workbench.engine.model import build_model

torch.set_num_threads(1)


def _columns_without_seconds(path: Path) -> list[list[str]]:
    return [line.split("\t")[:-1] for line in path.read_text().splitlines()]


def test_the_average_is_the_weighted_sum_of_the_snapshots() -> None:
    """Oracle: the closed form e_k = Σ_n w_n·p_n over the snapshots p_0 (the initial weights)
    .. p_k, with w_n = (1 - d_n)·Π_{i>n} d_i (d_0 := 0) and the warmed-up decay
    d_n = min(d, (1+n)/(10+n)), not the recursion the module runs. Decay 0.5 crosses from the
    warm-up to the cap at step 8."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    average = WeightAverage(model, 0.5)
    snapshots = [[p.detach().clone() for p in model.parameters()]]
    steps = 12
    for _ in range(steps):
        loss = model(torch.randn(16, 4)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        average.update(model)
        snapshots.append([p.detach().clone() for p in model.parameters()])

    decays = [0.0] + [min(0.5, (1 + n) / (10 + n)) for n in range(1, steps + 1)]
    weights = [
        (1 - decays[n]) * torch.tensor(decays[n + 1 :]).prod().item() for n in range(steps + 1)
    ]
    assert sum(weights) == pytest.approx(1.0)
    for index, averaged in enumerate(average.module.parameters()):
        expected = sum(w * snapshot[index] for w, snapshot in zip(weights, snapshots, strict=True))
        torch.testing.assert_close(averaged, expected, rtol=1e-5, atol=1e-6)
    for mine, live in zip(average.module.buffers(), model.buffers(), strict=True):
        assert torch.equal(mine, live)  # BatchNorm statistics are copied, not averaged
    assert average.updates == steps and not average.module.training


def test_an_ema_run_validates_and_keeps_the_averaged_weights(tmp_path: Path) -> None:
    config = tiny_config(epochs=1, ema=0.9)
    data = tiny_data()
    result = fit(config, data, tmp_path / "run")
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert "ema" not in best and last["ema"]["updates"] == 3  # 21 images in batches of 8
    assert all(torch.equal(best["model"][k], last["ema"]["model"][k]) for k in best["model"])
    assert not all(torch.equal(best["model"][k], last["model"][k]) for k in best["model"])

    model = build_model(config.model, data.num_classes)
    model.load_state_dict(best["model"])
    setup = setup_device("cpu")
    loader = BatchLoader(
        data, "val", batch_size=8, shuffle=False, augment="none", seed=42, device=setup.device
    )
    metrics = validate(model, loader, CrossEntropy(), setup, data.num_classes)
    assert metrics is not None and metrics == result.history[0].val


def test_decay_zero_is_off(tmp_path: Path) -> None:
    fit(tiny_config(epochs=1), tiny_data(), tmp_path / "run")
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert "ema" not in last
    assert all(torch.equal(best["model"][k], last["model"][k]) for k in best["model"])


def test_an_ema_run_stopped_mid_epoch_resumes_to_the_same_rows(tmp_path: Path) -> None:
    config = tiny_config(epochs=3, ema=0.9)
    data = tiny_data()
    fit(config, data, tmp_path / "whole")
    stop = StopFlag()
    first = fit(config, data, tmp_path / "split", stop=stop, loss_fn=StopAtCall(stop, 5))
    assert first.state == "stopped"
    last = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert (last["epoch"], last["batch"], last["ema"]["updates"]) == (1, 2, 5)
    assert fit(config, data, tmp_path / "split", resume=True).state == "finished"
    for split in ("train", "val"):
        whole = _columns_without_seconds(tmp_path / "whole" / "metrics" / f"{split}.txt")
        resumed = _columns_without_seconds(tmp_path / "split" / "metrics" / f"{split}.txt")
        assert resumed == whole
    for name in ("last", "best"):
        a = load_checkpoint(tmp_path / "whole" / "checkpoints" / f"{name}.pt")["model"]
        b = load_checkpoint(tmp_path / "split" / "checkpoints" / f"{name}.pt")["model"]
        assert all(torch.equal(a[k], b[k]) for k in a)
