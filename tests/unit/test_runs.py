"""The run directory's writer and reader, without training (events made by hand)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.tiny_loop import METRICS
from workbench.config import DataConfig, RunConfig
from workbench.engine.events import EpochEnd, Progress, RunStarted, RunStopped
from workbench.engine.runs import (
    Run,
    RunLock,
    RunRecorder,
    create_run_dir,
    list_runs,
    new_run_id,
    open_run,
)
from workbench.errors import UsageError


def _started(run_dir: Path, start_epoch: int = 0, resumed: bool = False) -> RunStarted:
    return RunStarted(
        run_id=run_dir.name,
        run_dir=str(run_dir),
        config=json.loads(RunConfig().to_json()),
        classes=("a", "b"),
        device="cpu fp32",
        epochs=3,
        start_epoch=start_epoch,
        train_batches=2,
        val_batches=1,
        train_images=10,
        val_images=4,
        params=10,
        mult_adds=100,
        split_fingerprint="f00",
        resumed=resumed,
        pid=os.getpid(),
    )


def _epoch(epoch: int) -> EpochEnd:
    return EpochEnd(
        epoch=epoch,
        epochs=3,
        train=METRICS,
        val=METRICS,
        lr=1e-3,
        seconds=2.0,
        train_seconds=1.5,
        images_per_second=6.7,
        best_epoch=epoch,
        best_val_accuracy=0.75,
        improved=True,
    )


def test_run_ids_and_unique_directories(tmp_path: Path) -> None:
    when = datetime(2026, 11, 29, 18, 30, 0)
    assert new_run_id(DataConfig(data="/x/animals", image_size=128), when) == (
        "20261129-183000-animals-s128"
    )
    assert new_run_id(DataConfig(data=None, image_size=64), when).endswith("-demo-s64")
    first = create_run_dir(tmp_path, "r")
    second = create_run_dir(tmp_path, "r")
    assert (first.name, second.name) == ("r", "r-2")


def test_recorder_writes_and_reader_reads_back(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    record = RunRecorder(run_dir)
    record(_started(run_dir))
    record(_epoch(1))
    run = open_run(run_dir)
    assert run.id == "run" and run.classes() == ["a", "b"]
    assert run.config() == RunConfig()
    assert run.config_document()["split_fingerprint"] == "f00"
    status = run.status()
    assert status is not None and status.effective_state == "interrupted"  # no one holds it
    with RunLock.acquire(run_dir):  # as the training process does for its whole life
        status = run.status()
    assert status is not None
    assert (status.state, status.epoch, status.epochs, status.alive) == ("running", 1, 3, True)
    assert status.effective_state == "running"
    rows = run.metrics("train")
    assert len(rows) == 1 and rows[0].accuracy == pytest.approx(0.75)
    assert rows[0].seconds == pytest.approx(1.5)
    assert run.metrics("val")[0].seconds == pytest.approx(0.5)
    text = run.metrics_path("val").read_text().splitlines()
    assert text[1] == "1\t0.500000\t0.750000\t0.700000\t0.720000\t0.710000\t1.000000e-03\t0.500"
    record(RunStopped(epochs_done=1, reason="SIGTERM"))
    status = run.status()
    assert status is not None and status.state == "stopped" and "SIGTERM" in status.message
    with pytest.raises(ValueError):
        run.metrics("test")


def test_events_can_be_tailed_and_a_half_written_line_waits(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    record = RunRecorder(run_dir)
    record(_started(run_dir))
    run = Run(run_dir)
    events, offset = run.events()
    assert [e.kind for e in events] == ["run_started"]
    progress = Progress(
        epoch=1,
        epochs=3,
        phase="train",
        batch=1,
        batches=2,
        images_per_second=1,
        loss=1,
        eta_seconds=2,
    )
    record(progress)
    with open(run_dir / "events.jsonl", "a") as handle:
        handle.write('{"event": "epoch_e')  # a writer in the middle of a line
    events, offset = run.events(offset)
    assert events == [progress]
    assert run.events(offset) == ([], offset)


def test_a_bad_line_is_passed_over_and_tailing_goes_on(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    record = RunRecorder(run_dir)
    record(_started(run_dir))
    with open(run_dir / "events.jsonl", "a") as handle:
        handle.write("not json\n")
        handle.write('{"event": "from_a_newer_version"}\n')
    stopped = RunStopped(epochs_done=1, reason="SIGINT")
    record(stopped)
    events, _ = Run(run_dir).events()
    assert [e.kind for e in events] == ["run_started", "run_stopped"]
    assert events[-1] == stopped


def test_resume_drops_metric_rows_past_the_checkpoint(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    record = RunRecorder(run_dir)
    record(_started(run_dir))
    for epoch in (1, 2):
        record(_epoch(epoch))
    config_before = (run_dir / "config.json").read_text()
    again = RunRecorder(run_dir)
    again(_started(run_dir, start_epoch=1, resumed=True))  # last.pt held epoch 1 only
    run = open_run(run_dir)
    assert [r.epoch for r in run.metrics("train")] == [1]
    assert [r.epoch for r in run.metrics("val")] == [1]
    assert (run_dir / "config.json").read_text() == config_before


def test_a_dead_running_run_reads_as_interrupted(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    RunRecorder(run_dir)(_started(run_dir))
    raw = json.loads((run_dir / "status.json").read_text())
    raw["pid"] = 2**22 + 12345  # no such process
    (run_dir / "status.json").write_text(json.dumps(raw))
    status = open_run(run_dir).status()
    assert status is not None and status.effective_state == "interrupted"


def test_list_runs_newest_first_and_open_run_refuses_other_folders(tmp_path: Path) -> None:
    for name, stamp in (("old", 1_000_000), ("new", 2_000_000)):
        run_dir = tmp_path / name
        RunRecorder(run_dir)(_started(run_dir))
        os.utime(run_dir / "config.json", (stamp, stamp))
    (tmp_path / "not-a-run").mkdir()
    assert [r.id for r in list_runs(tmp_path)] == ["new", "old"]
    assert list_runs(tmp_path / "missing") == []
    with pytest.raises(UsageError, match="not a run directory"):
        open_run(tmp_path / "not-a-run")
