"""The training loop on tiny in-memory data: validation invariants, checkpoints, resume, faults."""

from __future__ import annotations

import copy
import json
import math
import types
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.support.tiny_loop import StopAtCall, tiny_config, tiny_data
from workbench.config import DataConfig, RunConfig
from workbench.engine.checkpoint import load_checkpoint
from workbench.engine.device import setup_device
from workbench.engine.events import CheckpointSaved, EpochEnd, Event, Progress, RunFailed
from workbench.engine.loader import BatchLoader
from workbench.engine.loop import StopFlag, fit, validate
from workbench.engine.losses import CrossEntropy, build_loss
from workbench.engine.model import build_model
from workbench.engine.optim import build_optimizer
from workbench.engine.runs import open_run
from workbench.errors import UsageError

torch.set_num_threads(1)


def _columns_without_seconds(path: Path) -> list[list[str]]:
    return [line.split("\t")[:-1] for line in path.read_text().splitlines()]


def test_validation_changes_nothing_and_makes_no_gradients() -> None:
    data = tiny_data()
    config = tiny_config()
    setup = setup_device("cpu")
    model = build_model(config.model, data.num_classes)
    optimizer = build_optimizer(model, config.train)
    loss_fn = build_loss(config.train)
    train = BatchLoader(
        data, "train", batch_size=8, shuffle=True, augment="builtin", seed=0, device=setup.device
    )
    x, y = next(iter(train))
    loss_fn(model(x), y).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    params = copy.deepcopy(model.state_dict())  # parameters and BN running stats
    opt_state = copy.deepcopy(optimizer.state_dict())
    val = BatchLoader(
        data, "val", batch_size=4, shuffle=False, augment="none", seed=0, device=setup.device
    )
    seen: list[bool] = []

    def spy(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        seen.append(output.requires_grad or torch.is_grad_enabled())

    model.head.register_forward_hook(spy)
    metrics = validate(model, val, loss_fn, setup, data.num_classes)
    assert metrics is not None and metrics.count == len(data.split.indices("val"))
    assert seen and not any(seen)
    assert model.training  # the mode is restored
    for key, value in model.state_dict().items():
        assert torch.equal(value, params[key]), key
    assert all(p.grad is None for p in model.parameters())
    after = optimizer.state_dict()
    for index, state in opt_state["state"].items():
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(after["state"][index][name]), torch.as_tensor(value))


def test_fit_writes_the_run_directory_contract(tmp_path: Path) -> None:
    events: list[Event] = []
    result = fit(tiny_config(epochs=2), tiny_data(), tmp_path / "run", subscribers=[events.append])
    assert result.state == "finished" and result.epochs_done == 2
    run = open_run(tmp_path / "run")
    header = "epoch\tloss\taccuracy\tprecision\trecall\tf1\tlr\tseconds"
    for split in ("train", "val"):
        lines = run.metrics_path(split).read_text().splitlines()
        assert lines[0] == header
        assert [line.split("\t")[0] for line in lines[1:]] == ["1", "2"]
        assert all(len(line.split("\t")) == 8 for line in lines)
        rows = run.metrics(split)
        assert [r.epoch for r in rows] == [1, 2] and 0 <= rows[-1].accuracy <= 1
    status = run.status()
    assert status is not None and status.state == "finished" and status.epoch == 2
    document = run.config_document()
    assert document["classes"] == ["cats", "dogs", "panda"]
    assert document["split_fingerprint"] == tiny_data().fingerprint
    assert "torch" in document["versions"] and document["device"].startswith("cpu")
    assert run.config() == tiny_config(epochs=2)
    assert run.split_path().read_text().startswith("path,class,split\n")
    logged, _ = run.events()
    assert [type(e).__name__ for e in logged] == [type(e).__name__ for e in events]
    # Compared as JSON: a validation Progress carries images_per_second=nan, and nan != nan.
    assert [e.to_json() for e in logged] == [e.to_json() for e in events]

    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    for line in (run.path / "events.jsonl").read_text().splitlines():  # jq could read them
        json.loads(line, parse_constant=refuse)
    json.loads((run.path / "status.json").read_text(), parse_constant=refuse)
    kinds = [e.kind for e in events if not isinstance(e, Progress)]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert len(ends[0].val.per_class_precision) == 3
    assert {e.name for e in events if isinstance(e, CheckpointSaved)} >= {"last"}


def test_checkpoint_round_trip_with_weights_only(tmp_path: Path) -> None:
    config = tiny_config(epochs=2)
    data = tiny_data()
    fit(config, data, tmp_path / "run")
    for name in ("last", "best"):
        path = tmp_path / "run" / "checkpoints" / f"{name}.pt"
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert state["classes"] == data.classes
        assert RunConfig.from_dict(state["config"]) == config
        model = build_model(config.model, 3)
        model.load_state_dict(state["model"])
        optimizer = build_optimizer(model, config.train)
        optimizer.load_state_dict(state["optimizer"])
        assert {"scheduler", "scaler", "rng", "epoch", "batch"} <= set(state)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"] == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("phase", "stop_at", "expected", "batch_size"),
    [
        ("train", 3, (1, 0), 8),
        ("train", 6, (2, 0), 8),
        ("train", 11, (3, 2), 8),
        ("val", 3, (1, 11), 2),
    ],
    ids=["after-epoch1", "after-epoch2", "epoch4-batch2", "epoch2-validation"],
)
def test_resume_equals_an_uninterrupted_run(
    tmp_path: Path, phase: str, stop_at: int, expected: tuple[int, int], batch_size: int
) -> None:
    # 21 train and 3 val images: 3 (or 11) train and 1 (or 2) val batches per epoch
    config = tiny_config(epochs=4, batch_size=batch_size)
    data = tiny_data()
    fit(config, data, tmp_path / "whole", loss_fn=StopAtCall(None, 0))

    stop = StopFlag()
    first = fit(
        config, data, tmp_path / "split", stop=stop, loss_fn=StopAtCall(stop, stop_at, phase=phase)
    )
    assert first.state == "stopped"
    status = open_run(tmp_path / "split").status()
    assert status is not None and status.state == "stopped"
    last = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt")
    assert (last["epoch"], last["batch"]) == expected
    second = fit(config, data, tmp_path / "split", resume=True, loss_fn=StopAtCall(None, 0))
    assert second.state == "finished" and second.epochs_done == 4

    for split in ("train", "val"):
        whole = _columns_without_seconds(tmp_path / "whole" / "metrics" / f"{split}.txt")
        resumed = _columns_without_seconds(tmp_path / "split" / "metrics" / f"{split}.txt")
        assert resumed == whole
    a = torch.load(tmp_path / "whole/checkpoints/last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "split/checkpoints/last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


class NaNAt(nn.Module):
    """Cross-entropy that returns NaN at one training call."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.inner, self.at, self.calls = CrossEntropy(), at, 0

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = self.inner(logits, targets)
        if torch.is_grad_enabled():
            self.calls += 1
            if self.calls == self.at:
                return loss * math.nan
        return loss


def _finite_checkpoint_of_epoch(run_dir: Path, epoch: int) -> None:
    """last.pt and best.pt hold ``epoch`` and no NaN or infinity."""
    run = open_run(run_dir)
    for name in ("last", "best"):
        state = load_checkpoint(run.checkpoint_path(name))
        assert state["epoch"] == epoch
        assert all(
            torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point()
        )


def test_non_finite_loss_fails_the_run_and_keeps_good_checkpoints(tmp_path: Path) -> None:
    events: list[Event] = []
    result = fit(
        tiny_config(epochs=3),
        tiny_data(),
        tmp_path / "run",
        subscribers=[events.append],
        loss_fn=NaNAt(5),
    )
    assert result.state == "failed"
    assert "epoch 2, batch 2" in result.message
    failed = [e for e in events if isinstance(e, RunFailed)]
    assert failed and (failed[0].epoch, failed[0].batch) == (2, 2)
    run = open_run(tmp_path / "run")
    status = run.status()
    assert status is not None and status.state == "failed" and "epoch 2, batch 2" in status.message
    _finite_checkpoint_of_epoch(tmp_path / "run", 1)
    assert [r.epoch for r in run.metrics("val")] == [1]


class NaNAndStopAt(NaNAt):
    """NaN at one training call, and a stop requested at that same call."""

    def __init__(self, at: int, stop: StopFlag) -> None:
        super().__init__(at)
        self.stop = stop

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = super().forward(logits, targets)
        if torch.is_grad_enabled() and self.calls == self.at:
            self.stop.request("test")
        return loss


def test_a_non_finite_loss_found_late_still_names_its_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a clock that never moves, losses are checked only at each phase's last batch (the
    loop does not read every loss, which would stall a GPU); the NaN of epoch 2, batch 1 is
    found at batch 3 and still reported as batch 1, and nothing after it was saved."""
    from workbench.engine import loop

    monkeypatch.setattr(loop, "time", types.SimpleNamespace(monotonic=lambda: 0.0))
    events: list[Event] = []
    result = fit(
        tiny_config(epochs=3),
        tiny_data(),
        tmp_path / "run",
        subscribers=[events.append],
        loss_fn=NaNAt(4),  # 3 training batches an epoch: call 4 is epoch 2, batch 1
    )
    assert result.state == "failed" and "epoch 2, batch 1" in result.message
    train_progress = [e.batch for e in events if isinstance(e, Progress) and e.phase == "train"]
    assert train_progress == [3]  # epoch 1's last batch only: the clock never allowed more
    _finite_checkpoint_of_epoch(tmp_path / "run", 1)


def test_a_stop_at_a_non_finite_loss_fails_instead_of_saving_it(tmp_path: Path) -> None:
    stop = StopFlag()
    result = fit(
        tiny_config(epochs=3),
        tiny_data(),
        tmp_path / "run",
        stop=stop,
        loss_fn=NaNAndStopAt(5, stop),
    )
    assert result.state == "failed" and "epoch 2, batch 2" in result.message
    _finite_checkpoint_of_epoch(tmp_path / "run", 1)


def test_every_phase_reports_its_last_batch(tmp_path: Path) -> None:
    events: list[Event] = []
    fit(tiny_config(epochs=2), tiny_data(), tmp_path / "run", subscribers=[events.append])
    ends = {(e.epoch, e.phase) for e in events if isinstance(e, Progress) and e.batch == e.batches}
    assert ends == {(1, "train"), (1, "val"), (2, "train"), (2, "val")}


def test_progress_is_throttled_to_four_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.engine import loop

    now = [100.0]
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    emitter = loop._Emitter([])
    due = []
    for step in range(12):  # every 0.1 s
        now[0] = 100.0 + 0.1 * step
        due.append(emitter.progress_due(force=step == 4))
    # 100.0 due; 100.3 is 0.3 later; 100.4 is forced; then 100.7 and 101.0 (0.3 apart each)
    assert [i for i, d in enumerate(due) if d] == [0, 3, 4, 7, 10]


def test_early_stopping_ends_the_run(tmp_path: Path) -> None:
    result = fit(
        tiny_config(epochs=6, early_stopping=1, lr=5.0, schedule="none"),
        tiny_data(),
        tmp_path / "run",
    )
    assert result.state == "finished"
    assert "early_stopping" in result.message or result.epochs_done == 6


@pytest.mark.parametrize(
    ("optimizer", "schedule"), [("sgd", "onecycle"), ("adam", "none"), ("adamw", "cosine")]
)
def test_optimizers_and_schedules_train(tmp_path: Path, optimizer: str, schedule: str) -> None:
    config = tiny_config(epochs=1, optimizer=optimizer, schedule=schedule, grad_clip=1.0)
    result = fit(config, tiny_data(per_class=6), tmp_path / "run")
    assert result.state == "finished"
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["scheduler"]


@pytest.mark.parametrize("augment", ["albumentations", "none"])
def test_other_augmentation_backends_train(tmp_path: Path, augment: str) -> None:
    base = tiny_config(epochs=1)
    config = RunConfig(
        data=DataConfig(image_size=64, augment=augment), model=base.model, train=base.train
    )
    assert fit(config, tiny_data(per_class=6), tmp_path / "run").state == "finished"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unavailable_device_is_a_usage_error_that_marks_nothing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="device"):
        fit(tiny_config(device="cuda"), tiny_data(), tmp_path / "run")
    assert not (tmp_path / "run" / "status.json").exists()


def test_a_run_resumed_mid_epoch_restores_its_sums_on_the_training_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.engine import loop
    from workbench.engine.metrics import MetricAccumulator

    stop = StopFlag()
    config = tiny_config(epochs=2)
    first = fit(config, tiny_data(), tmp_path / "run", stop=stop, loss_fn=StopAtCall(stop, 2))
    assert first.state == "stopped"
    devices: list[torch.device | str] = []
    restore = MetricAccumulator.from_state_dict

    def spy(state: dict[str, object], device: torch.device | str = "cpu") -> MetricAccumulator:
        devices.append(device)
        return restore(state, device)

    monkeypatch.setattr(loop.MetricAccumulator, "from_state_dict", spy)
    assert fit(config, tiny_data(), tmp_path / "run", resume=True).state == "finished"
    assert devices == [setup_device("cpu").device]
