"""`workbench train` on two processes (gloo, CPU) end to end: the launcher, two "machines" on
loopback, a stop and a resume, a killed rank, and the options' refusals.

Each test starts real processes under torchrun; every wait has a timeout, so a hang fails the
test instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from workbench.__main__ import main
from workbench.engine.distributed import free_port
from workbench.engine.runs import open_run

pytestmark = pytest.mark.slow

TINY = ["--image-size", "64", "--stem", "4", "--widths", "4,8", "--batch-size", "8"]
TINY += ["--num-workers", "0", "--device", "cpu", "--cache-dir", "cache"]


@pytest.fixture
def folder(make_image_folder, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    return make_image_folder({"cats": 12, "dogs": 12, "panda": 12}, root=tmp_path / "animals")


def _workbench(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
    )


def _finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _wait_for(path: Path, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never came"
        time.sleep(0.05)


def test_two_machines_on_loopback_finish_one_run(folder: Path, tmp_path: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    common = ["train", "--data", str(folder), "--epochs", "1", *TINY, "--nnodes", "2"]
    common += ["--rdzv-endpoint", endpoint]
    machines = [
        _workbench(*common, "--node-rank", str(rank), "--run-dir", "run", cwd=tmp_path)
        for rank in (0, 1)
    ]
    for machine in machines:
        code, _out, err = _finish(machine)
        assert code == 0, err
    run = open_run(tmp_path / "run")
    status = run.status()
    assert status is not None and status.state == "finished"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["world_size"] == 2


def test_sigint_stops_every_rank_and_the_resumed_run_evaluates_on_one_cpu(
    folder: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    train = ["train", "--data", str(folder), "--epochs", "6", *TINY]
    launcher = _workbench(*train, "--nproc-per-node", "2", "--run-dir", "run", cwd=tmp_path)
    _wait_for(run_dir / "status.json", launcher)
    launcher.send_signal(signal.SIGINT)  # as the TUI's stop does
    code, _out, err = _finish(launcher, timeout=60)
    assert code == 130, err
    assert "--resume" in err
    run = open_run(run_dir)
    status = run.status()
    assert status is not None and status.state == "stopped" and status.epoch < 6
    assert run.checkpoint_path("last").exists()

    resume = ["train", "--run-dir", "run", "--resume", "--cache-dir", "cache"]
    assert (
        main([*resume[:-2], "--cache-dir", str(tmp_path / "cache"), "--nproc-per-node", "1"]) == 2
    )
    code, out, err = _finish(_workbench(*resume, "--json", cwd=tmp_path))
    assert code == 0, err
    summary = json.loads(out)  # rank 0's, once
    assert summary["state"] == "finished" and summary["device"].startswith("2 x cpu")
    assert [row.epoch for row in run.metrics("train")] == list(range(1, 7))
    assert json.loads((run_dir / "config.json").read_text())["world_size"] == 2
    kinds = [event.kind for event in run.events()[0]]
    assert kinds.count("run_started") == 2 and kinds.count("run_stopped") == 1
    assert kinds.count("run_finished") == 1
    state = torch.load(run.checkpoint_path("best"), weights_only=True)
    assert not any(name.startswith("module.") for name in state["model"])
    evaluate = ["eval", str(run_dir), "--data", str(folder), "--cache-dir", str(tmp_path / "cache")]
    assert main([*evaluate, "--device", "cpu", "--json"]) == 0


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the ranks in /proc")
def test_a_killed_rank_ends_the_run_with_one_line_naming_it(folder: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train = ["train", "--data", str(folder), "--epochs", "500", *TINY]
    launcher = _workbench(*train, "--nproc-per-node", "2", "--run-dir", "run", cwd=tmp_path)
    _wait_for(run_dir / "status.json", launcher)
    rank0 = json.loads((run_dir / "status.json").read_text())["pid"]
    victim = next(pid for pid in _children(launcher.pid) if pid != rank0)
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    code, _out, err = _finish(launcher, timeout=60)
    assert time.monotonic() - killed < 40
    assert code == 1, err
    lines = [line for line in err.splitlines() if "rank 1" in line]
    assert len(lines) == 1 and "SIGKILL" in lines[0], err
    assert "Traceback" not in err
    assert "another process of this run ended" in " ".join(err.split())  # rank 0's line
    status = open_run(run_dir).status()
    assert status is not None and status.state == "failed"


@pytest.mark.parametrize(
    ("options", "name"),
    [
        (["--nproc-per-node", "0"], "--nproc-per-node"),
        (["--nnodes", "2"], "--rdzv-endpoint"),
        (["--rdzv-endpoint", "nowhere"], "--rdzv-endpoint"),
        (["--nproc-per-node", "4", "--batch-size", "2"], "--batch-size"),
    ],
)
def test_bad_distributed_options_are_one_line(
    options: list[str], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", *options, "--run-dir", str(tmp_path / "r")]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and name in lines[0], lines


def test_a_busy_port_is_one_line(folder: Path, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        endpoint = f"127.0.0.1:{busy.getsockname()[1]}"
        train = ["train", "--data", str(folder), "--epochs", "1", *TINY, "--run-dir", "run"]
        launcher = _workbench(
            *train, "--nproc-per-node", "2", "--rdzv-endpoint", endpoint, cwd=tmp_path
        )
        code, _out, err = _finish(launcher, timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "port is in use" in lines[0]
