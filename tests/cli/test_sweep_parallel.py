"""`workbench sweep --parallel 2`: two real runs at once; and the scheduler's stop and re-run
with stand-in children (a few lines of Python that behave as `workbench train` does towards
its run folder: status.json, last.pt, exit code 130 on SIGINT), which start in milliseconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workbench.config import with_values
from workbench.engine.loop import StopFlag
from workbench.engine.sweep import SweepEntry, parse_grid, plan_sweep
from workbench.engine.sweep_parallel import run_sweep_parallel, slot_environment

TINY = ["--image-size", "64", "--stem", "4", "--widths", "4,8", "--batch-size", "8"]
TINY += ["--num-workers", "0", "--device", "cpu", "--cache-dir", "cache"]

STAND_IN = """
import json, os, signal, sys, time
from pathlib import Path
run = Path(sys.argv[1])
def status(state):
    (run / "status.json").write_text(json.dumps({"state": state}))
stopped = []
signal.signal(signal.SIGINT, lambda *_: stopped.append(1))
(run / "checkpoints").mkdir(parents=True, exist_ok=True)
(run / "checkpoints" / "last.pt").write_bytes(b"")
(run / "threads").write_text(os.environ.get("OMP_NUM_THREADS", ""))
status("running")
for _ in range(int(sys.argv[2]) * 20):
    if stopped:
        status("stopped")
        sys.exit(130)
    time.sleep(0.05)
status("finished")
"""


def test_each_slot_gets_a_gpu_of_its_own_or_a_share_of_the_cores() -> None:
    assert slot_environment(0, 2, ("0", "1")) == {"CUDA_VISIBLE_DEVICES": "0"}
    assert slot_environment(1, 2, ("0", "1")) == {"CUDA_VISIBLE_DEVICES": "1"}
    assert slot_environment(2, 3, ("0", "1")) == {"CUDA_VISIBLE_DEVICES": "0"}
    threads = int(slot_environment(0, 2, ())["OMP_NUM_THREADS"])
    assert threads == max(1, len(os.sched_getaffinity(0)) // 2)


def test_a_stop_reaches_every_child_and_a_rerun_resumes_them(tmp_path: Path) -> None:
    plan = plan_sweep(parse_grid(["lr=1e-3,2e-3,3e-3"]), with_values(None, {}), tmp_path)
    seconds = {"lr=1e-3": "60", "lr=2e-3": "60", "lr=3e-3": "0"}

    def stand_in(entry: SweepEntry, resume: bool) -> list[str]:
        wait = "0" if resume else seconds[f"lr={entry.params['lr']}"]
        return [sys.executable, "-c", STAND_IN, str(entry.path), wait]

    stop = StopFlag()
    threading.Timer(1.0, stop.request).start()
    started = time.monotonic()
    first = run_sweep_parallel(plan, parallel=2, command=stand_in, stop=stop)
    assert time.monotonic() - started < 30  # the children stopped; none waited a minute
    assert first.stopped
    assert [(o.entry.index, o.state) for o in first.outcomes] == [(1, "stopped"), (2, "stopped")]
    share = slot_environment(0, 2, ())["OMP_NUM_THREADS"]
    assert (plan.entries[0].path / "threads").read_text() == share  # each its share of cores

    again = run_sweep_parallel(plan, parallel=2, command=stand_in)
    actions = sorted((o.entry.index, o.action, o.state) for o in again.outcomes)
    assert actions == [
        (1, "resumed", "finished"),
        (2, "resumed", "finished"),
        (3, "started", "finished"),
    ]
    assert not again.stopped
    skipped = run_sweep_parallel(plan, parallel=2, command=stand_in)
    assert {o.action for o in skipped.outcomes} == {"skipped"}


@pytest.mark.slow
def test_two_runs_train_at_once(
    make_image_folder,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    folder = make_image_folder({"cats": 12, "dogs": 12, "panda": 12}, root=tmp_path / "animals")
    command = [sys.executable, "-m", "workbench", "sweep", "--grid", "lr=1e-3,3e-3"]
    command += ["--epochs", "1", "--data", str(folder), *TINY]
    command += ["--parallel", "2", "--sweep-dir", "sweep", "--out", "out", "--json"]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env={**os.environ, "COLUMNS": "160"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [run["state"] for run in report["runs"]] == ["finished"] * 2
    assert sorted((tmp_path / "sweep" / ".logs").iterdir())  # each child's output
