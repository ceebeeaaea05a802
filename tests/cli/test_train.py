"""`workbench train` end to end in a subprocess, on a tiny generated image folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.__main__ import main
from workbench.engine.runs import open_run

TINY = ["--image-size", "64", "--stem", "4", "--widths", "4,8", "--batch-size", "8"]
TINY += ["--num-workers", "0"]


def _train(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "train", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "120"},
    )


@pytest.fixture
def folder(make_image_folder, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    return make_image_folder({"cats": 12, "dogs": 12, "panda": 12}, root=tmp_path / "animals")


@pytest.mark.slow
def test_train_end_to_end_json(folder: Path, tmp_path: Path) -> None:
    result = _train(
        "--data",
        str(folder),
        "--epochs",
        "2",
        "--cache-dir",
        "cache",
        "--json",
        *TINY,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["state"] == "finished" and summary["epochs_done"] == 2
    assert summary["classes"] == ["cats", "dogs", "panda"]
    run_dir = Path(summary["run_dir"])
    assert run_dir.parent == tmp_path / "runs" and run_dir.name.endswith("-animals-s64")
    run = open_run(run_dir)
    assert [r.epoch for r in run.metrics("val")] == [1, 2]
    assert run.config().data.data == str(folder.resolve())
    assert run.checkpoint_path("best").exists() and run.checkpoint_path("last").exists()
    status = run.status()
    assert status is not None and status.state == "finished"


@pytest.mark.parametrize(
    ("option", "value", "name"),
    [
        ("--epochs", "0", "--epochs"),
        ("--lr", "-1", "--lr"),
        ("--dropout", "1.5", "--dropout"),
        ("--widths", "0,8", "--widths"),
        ("--device", "gpu", "--device"),
        ("--early-stopping", "-1", "--early-stopping"),
        ("--ema", "1", "--ema"),
        ("--mixup", "-0.2", "--mixup"),
        ("--cutmix", "nan", "--cutmix"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    option: str, value: str, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", option, value, "--run-dir", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and name in lines[0], err
    assert not (tmp_path / "r").exists()


def test_resume_without_a_run_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--resume", "--run-dir", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["train", "--resume"]) == 2
    assert "--run-dir" in capsys.readouterr().err


@pytest.mark.slow
def test_sigint_leaves_a_resumable_run_and_resume_finishes_it(folder: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["--data", str(folder), "--epochs", "8", "--cache-dir", "cache", *TINY]
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "train", *args, "--run-dir", str(run_dir)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    status_path = run_dir / "status.json"
    deadline = time.monotonic() + 90
    while not status_path.exists() and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "--resume" in err
    run = open_run(run_dir)
    status = run.status()
    assert status is not None and status.state == "stopped"
    assert run.checkpoint_path("last").exists()
    epochs_done = status.epoch
    assert epochs_done < 8

    resumed = _train("--run-dir", str(run_dir), "--resume", "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["state"] == "finished"
    assert [r.epoch for r in run.metrics("train")] == list(range(1, 9))
    status = run.status()
    assert status is not None and status.state == "finished" and status.epoch == 8
    kinds = [e.kind for e in run.events()[0]]
    assert kinds.count("run_started") == 2 and "run_stopped" in kinds

    assert main(["train", "--run-dir", str(run_dir), "--resume"]) == 2  # finished: nothing to do


def test_short_runs_need_no_warmup_option_but_an_explicit_one_is_checked() -> None:
    from workbench.__main__ import build_parser
    from workbench.cli.train import config_from_args
    from workbench.errors import UsageError

    parser = build_parser()
    assert config_from_args(parser.parse_args(["train", "--epochs", "1"])).train.warmup_epochs == 1
    assert config_from_args(parser.parse_args(["train"])).train.warmup_epochs == 2
    with pytest.raises(UsageError, match="--warmup-epochs"):
        config_from_args(parser.parse_args(["train", "--epochs", "1", "--warmup-epochs", "3"]))


def test_help_says_the_default_of_each_on_off_pair_but_not_of_a_plain_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import re

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # One chunk per option's entry: "--residual, --no-residual each stage's ... (default: True)".
    chunks = re.split(r" (?=--(?!no-)[a-z])", text)
    entries = {chunk.split()[0].rstrip(","): chunk for chunk in chunks}
    group_title = r"( [a-z ]+:)?$"  # the last option of a group runs into the next title
    assert re.search(r"\(default: True\)" + group_title, entries["--residual"])
    assert re.search(r"\(default: False\)" + group_title, entries["--squeeze-excite"])
    assert "default" not in entries["--deterministic"]


def test_a_full_disk_ends_the_run_with_one_line_and_the_status_says_so(
    folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The checkpoints' folder is on a full disk (simulated: ENOSPC on writing a file there)."""
    import errno

    run_dir = tmp_path / "run"
    real = Path.write_bytes

    def write_bytes(self: Path, data: bytes) -> int:
        if self.parent == run_dir / "checkpoints":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    args = ["--data", str(folder), "--epochs", "1", "--cache-dir", str(tmp_path / "c"), *TINY]
    assert main(["train", *args, "--run-dir", str(run_dir)]) == 1
    err = capsys.readouterr().err
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith("error: ") and "no space left" in last, err
    assert str(run_dir / "checkpoints") in last and "Traceback" not in err
    status = open_run(run_dir).status()
    assert status is not None and status.state == "failed"
    assert list((run_dir / "checkpoints").iterdir()) == []  # no temporary left behind
