"""Two gloo processes with a global batch B train as one process with batch B does.

The oracle for the gradients is plain autograd in this process on the whole first batch; for
the metrics and weights, one process's ``fit``. Tolerance: 1e-6 (absolute, float32) for the
first step's gradients, 1e-5 for the weights after two epochs and the metric rows' losses (the
sums are taken in another order); accuracy, precision and recall exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from tests.support.ddp import build_model_without_batchnorm, spawned_rank
from tests.support.tiny_loop import tiny_config, tiny_data
from workbench.config import RunConfig, with_values
from workbench.engine import loop
from workbench.engine.data import seed_everything
from workbench.engine.distributed import free_port
from workbench.engine.loader import BatchLoader
from workbench.engine.losses import build_loss
from workbench.engine.runs import parse_metrics

pytestmark = pytest.mark.slow


def _config(ema: float = 0.0) -> RunConfig:
    # 21 train images in batches of 8: the last batch (5) splits 3 + 2, so the loss weighting
    # of unequal shares is part of the check; no augmentation, mixing or dropout (no random
    # draws; each process mixes its own share), float32 (bf16 autocast would round the two
    # differently).
    config = tiny_config(epochs=2, batch_size=8, nproc_per_node=2)
    values = {"augment": "none", "mixup": 0.0, "cutmix": 0.0, "dropout": 0.0, "amp": False}
    values["ema"] = ema
    return with_values(config, values).validate()


def _oracle_gradients(config: RunConfig) -> dict[str, torch.Tensor]:
    """The first batch's gradient by plain autograd: one model, the whole batch, one loss."""
    data = tiny_data()
    seed_everything(config.data.seed)
    model = build_model_without_batchnorm(config.model, data.num_classes)
    loader = BatchLoader(
        data, "train", batch_size=8, shuffle=True, augment="none", seed=42, device="cpu"
    )
    loader.set_epoch(1)
    x, y = next(iter(loader))
    model.train()
    build_loss(config.train)(model(x), y).backward()
    return {name: p.grad for name, p in model.named_parameters() if p.grad is not None}


def _events(run: Path) -> list[str]:
    """The kinds of the run's events, progress left out (it is throttled by time)."""
    lines = (run / "events.jsonl").read_text().splitlines()
    return [kind for line in lines if (kind := json.loads(line)["event"]) != "progress"]


def test_two_gloo_processes_train_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``--ema`` on (one process start-up for both checks): the first step's gradients
    and last.pt are the live weights'; the metric rows and best.pt are the averaged weights',
    which both must validate with process 0's statistics."""
    config = _config(ema=0.9)
    mp.spawn(spawned_rank, args=(2, free_port(), config, str(tmp_path)), nprocs=2, join=True)
    monkeypatch.setattr(loop, "build_model", build_model_without_batchnorm)
    torch.set_num_threads(1)
    single = loop.fit(config, tiny_data(), tmp_path / "single", world=loop.SINGLE)
    assert single.state == "finished"

    oracle = _oracle_gradients(config)
    for rank in (0, 1):
        grads = torch.load(tmp_path / f"grads-{rank}.pt", weights_only=True)
        assert grads.keys() == oracle.keys()
        for name, grad in grads.items():
            torch.testing.assert_close(grad, oracle[name], atol=1e-6, rtol=1e-5, msg=name)

    run, one = tmp_path / "run", tmp_path / "single"
    for split in ("train", "val"):
        rows = parse_metrics((run / "metrics" / f"{split}.txt").read_text())
        expected = parse_metrics((one / "metrics" / f"{split}.txt").read_text())
        assert len(rows) == len(expected) == 2
        for row, want in zip(rows, expected, strict=True):
            assert row.loss == pytest.approx(want.loss, abs=1e-5)
            assert (row.accuracy, row.precision, row.recall) == (
                want.accuracy,
                want.precision,
                want.recall,
            )
    for checkpoint in ("last.pt", "best.pt"):
        weights = torch.load(run / "checkpoints" / checkpoint, weights_only=True)["model"]
        expected = torch.load(one / "checkpoints" / checkpoint, weights_only=True)["model"]
        assert not any(name.startswith("module.") for name in weights)
        for name, value in weights.items():
            torch.testing.assert_close(value, expected[name], atol=1e-5, rtol=1e-4, msg=name)
    document = json.loads((run / "config.json").read_text())
    assert document["world_size"] == 2 and document["train"]["nproc_per_node"] == 2
    kinds = [_events(folder) for folder in (run, one)]
    assert kinds[0] == kinds[1] and kinds[0].count("run_started") == 1, kinds
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in one.iterdir())
