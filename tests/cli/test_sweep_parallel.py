"""`workbench sweep --parallel 2`: two runs at once as their own processes, a stop that reaches
both, and a re-run that resumes what was stopped and skips what finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.engine.sweep_parallel import slot_environment

TINY = ["--image-size", "64", "--stem", "4", "--widths", "4,8", "--batch-size", "8"]
TINY += ["--num-workers", "0", "--device", "cpu", "--cache-dir", "cache"]


def test_each_slot_gets_a_gpu_of_its_own_or_a_share_of_the_cores() -> None:
    assert slot_environment(0, 2, ("0", "1")) == {"CUDA_VISIBLE_DEVICES": "0"}
    assert slot_environment(1, 2, ("0", "1")) == {"CUDA_VISIBLE_DEVICES": "1"}
    assert slot_environment(2, 3, ("0", "1")) == {"CUDA_VISIBLE_DEVICES": "0"}
    threads = int(slot_environment(0, 2, ())["OMP_NUM_THREADS"])
    assert threads == max(1, len(os.sched_getaffinity(0)) // 2)


@pytest.mark.slow
def test_a_stopped_parallel_sweep_resumes_and_finishes(
    make_image_folder,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    folder = make_image_folder({"cats": 12, "dogs": 12, "panda": 12}, root=tmp_path / "animals")
    command = [sys.executable, "-m", "workbench", "sweep", "--grid", "lr=1e-3,3e-3"]
    command += ["--epochs", "6", "--data", str(folder), *TINY]
    command += ["--parallel", "2", "--sweep-dir", "sweep", "--out", "out", "--json"]
    env = {**os.environ, "COLUMNS": "160"}
    first = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + 90
    while not list((tmp_path / "sweep").glob("*/status.json")):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    _out, err = first.communicate(timeout=90)
    assert first.returncode == 130, err
    states = [
        json.loads(p.read_text())["state"] for p in (tmp_path / "sweep").glob("*/status.json")
    ]
    assert "running" not in states and "stopped" in states, states

    again = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=180
    )
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert [run["state"] for run in report["runs"]] == ["finished"] * 2
    assert "resumed" in [outcome["action"] for outcome in report["outcomes"]]
