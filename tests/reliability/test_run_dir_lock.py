"""One writer per run directory (issue 12, section 1): the run's lock, not the pid in
status.json, says whether a run is being trained; a second writer is refused in one line.

Two real ``workbench train`` processes are raced on the same run directory (fresh and
``--resume``) with a cold decode cache, the case that let both train before; the rest hold the
lock from a small second process and run the readers and writers against it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.rundir_helpers import (
    copy_run,
    held_by_another_process,
    one_error_line,
    snapshot,
    stopped_run,
    subprocess_env,
    write_large_image_folder,
)
from workbench.__main__ import main
from workbench.engine.runs import Run

pytestmark = pytest.mark.timeout(300)

TINY = [
    *("--image-size", "64", "--epochs", "2", "--batch-size", "8", "--warmup-epochs", "1"),
    *("--widths", "8,16", "--stem", "8", "--dropout", "0", "--device", "cpu"),
    *("--num-workers", "0"),
]
"""A 2-epoch run of a tiny CNN: a second or two of training."""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _busy_line(pid: int, run_dir: Path) -> str:
    """What a second writer is told: which run, that it is being trained, by whom, what to do."""
    return (
        f"error: {run_dir}: another process is training this run (pid {pid}); "
        f"wait for it to end or stop it (kill -INT {pid})"
    )


def _mark_running(run_dir: Path, pid: int) -> None:
    """status.json as a training process leaves it when it is killed: running, its pid."""
    path = run_dir / "status.json"
    status = json.loads(path.read_text())
    status.update(state="running", pid=pid)
    path.write_text(json.dumps(status))


def _race(argv: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Start two identical commands together and wait for both."""
    command = [sys.executable, "-m", "workbench", *argv]
    env = subprocess_env()
    both = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    done = []
    for process in both:
        out, err = process.communicate(timeout=240)
        done.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return done


def _epochs(run_dir: Path) -> tuple[list[int], list[int]]:
    run = Run(run_dir)
    return [r.epoch for r in run.metrics("train")], [r.epoch for r in run.metrics("val")]


def _events(run_dir: Path) -> list[str]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


def _one_trained_one_refused(
    results: list[subprocess.CompletedProcess[str]], run_dir: Path
) -> None:
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 2], [r.stderr[-2000:] for r in results]
    loser = next(r for r in results if r.returncode == 2)
    line = one_error_line(loser.stderr)
    assert str(run_dir) in line, line
    # Refused by the lock while the winner trained (or, had it already finished, by what it
    # left: a run that is not empty, or has finished).
    reasons = ("another process is training this run", "not empty", "has finished")
    assert any(reason in line for reason in reasons), line


# --------------------------------------------------------------------------------- races


@pytest.mark.slow
def test_two_trains_racing_on_one_run_dir_one_trains(tmp_path: Path) -> None:
    data = write_large_image_folder(tmp_path / "images")
    run_dir = tmp_path / "runs" / "same"
    cache = tmp_path / "cold-cache"
    argv = ["train", "--run-dir", str(run_dir), "--data", str(data), "--cache-dir", str(cache)]
    results = _race([*argv, *TINY])
    _one_trained_one_refused(results, run_dir)
    assert _epochs(run_dir) == ([1, 2], [1, 2])
    assert _events(run_dir).count("run_started") == 1
    assert json.loads((run_dir / "config.json").read_text())["run_id"] == "same"
    status = Run(run_dir).status()
    assert status is not None and status.state == "finished" and not status.alive


@pytest.mark.slow
def test_two_resumes_racing_on_one_run_one_continues_it(tmp_path: Path) -> None:
    run_dir = copy_run(tmp_path / "runs" / "r")
    cache = tmp_path / "cold-cache"
    argv = ["train", "--run-dir", str(run_dir), "--resume", "--cache-dir", str(cache)]
    results = _race(argv)
    _one_trained_one_refused(results, run_dir)
    assert _epochs(run_dir) == ([1, 2], [1, 2])
    assert _events(run_dir).count("run_started") == 2  # the first start and one resume
    status = Run(run_dir).status()
    assert status is not None and status.state == "finished"


# ------------------------------------------------------------------- the lock decides


def test_the_lock_not_the_pid_says_a_run_is_live(tmp_path: Path) -> None:
    from workbench.engine.runs import lock_holder, run_is_live

    run_dir = copy_run(tmp_path / "runs" / "r")
    with held_by_another_process(run_dir) as holder:
        _mark_running(run_dir, holder.pid)
        status = Run(run_dir).status()
        assert status is not None and status.effective_state == "running" and status.alive
        assert run_is_live(run_dir) and lock_holder(run_dir) == holder.pid
        os.kill(holder.pid, signal.SIGKILL)  # the kernel releases the lock of a killed process
        holder.wait(timeout=60)
        assert not run_is_live(run_dir)
        # ... even when its pid is reused by a live process (this test's, here).
        _mark_running(run_dir, os.getpid())
        status = Run(run_dir).status()
        assert status is not None and status.effective_state == "interrupted"


def test_a_dead_run_whose_status_names_a_live_pid_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.screens.runs import read_run_rows

    run_dir = copy_run(tmp_path / "runs" / "r")
    _mark_running(run_dir, os.getpid())  # killed with -9; its pid now belongs to a live process
    (row,) = read_run_rows(run_dir.parent)
    assert row.cells[2] == "interrupted"
    cache = str(stopped_run().cache_dir)
    code = main(["train", "--run-dir", str(run_dir), "--resume", "--cache-dir", cache])
    assert code == 0, capsys.readouterr().err
    assert _epochs(run_dir) == ([1, 2], [1, 2])


def test_a_fresh_train_into_a_locked_run_dir_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = stopped_run()
    run_dir = tmp_path / "runs" / "new"
    argv = ["train", "--run-dir", str(run_dir), "--data", str(base.data_dir)]
    with held_by_another_process(run_dir) as holder:
        assert main([*argv, "--cache-dir", str(base.cache_dir), *TINY]) == 2
        assert one_error_line(capsys.readouterr().err) == _busy_line(holder.pid, run_dir)
    assert [p.name for p in run_dir.iterdir()] == [".lock"]  # nothing written


def test_a_resume_of_a_locked_run_is_refused_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = copy_run(tmp_path / "runs" / "r")
    cache = str(stopped_run().cache_dir)
    with held_by_another_process(run_dir) as holder:
        _mark_running(run_dir, holder.pid)
        before = snapshot(run_dir)
        code = main(["train", "--run-dir", str(run_dir), "--resume", "--cache-dir", cache])
        assert code == 2
        assert one_error_line(capsys.readouterr().err) == _busy_line(holder.pid, run_dir)
    assert snapshot(run_dir) == before


def test_a_sweep_does_not_touch_a_run_another_process_trains(tmp_path: Path) -> None:
    from tests.support.tiny_run import tiny_run_config
    from workbench.engine.sweep import parse_grid, plan_sweep, run_sweep
    from workbench.errors import RunBusyError

    base = stopped_run()
    config = tiny_run_config(base.data_dir, base.cache_dir, epochs=1)
    plan = plan_sweep(parse_grid(["lr=1e-3,2e-3"]), config, tmp_path / "sweep")
    entry = plan.entries[0].path
    with held_by_another_process(entry) as holder:
        with pytest.raises(RunBusyError) as refused:
            run_sweep(plan)
        assert refused.value.pid == holder.pid
    assert [p.name for p in entry.iterdir()] == [".lock"]
