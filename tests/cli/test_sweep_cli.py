"""`workbench sweep` end to end, in a subprocess: runs, figures, and a re-run that skips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.files import png_ok
from tests.support.tiny_run import tiny_run


@pytest.mark.slow
def test_sweep_runs_every_combination_then_skips_them(tmp_path: Path) -> None:
    tiny = tiny_run()
    args = (
        "sweep", "--grid", "lr=3e-3,1e-3", "loss=ce",
        "--data", str(tiny.data_dir), "--cache-dir", str(tiny.cache_dir),
        "--image-size", "64", "--epochs", "1", "--batch-size", "8", "--device", "cpu",
        "--runs-root", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    assert [o["action"] for o in document["outcomes"]] == ["started", "started"]
    assert [r["state"] for r in document["runs"]] == ["finished", "finished"]
    assert [r["params"]["lr"] for r in document["runs"]] == ["3e-3", "1e-3"]
    sweep_dir = Path(document["sweep_dir"])
    assert sweep_dir.parent == tmp_path / "runs" and (sweep_dir / "sweep.json").is_file()
    assert sorted(Path(f).name for f in document["files"]) == ["sweep_lr.png", "sweep_summary.txt"]
    png_ok(tmp_path / "out" / "sweep_lr.png")

    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert [o["action"] for o in json.loads(again.stdout)["outcomes"]] == ["skipped", "skipped"]
    assert "skip (finished)" in again.stderr


def test_sweep_bad_grid_is_one_line(tmp_path: Path) -> None:
    result = run_cli("sweep", "--grid", "speed=1,2", "--runs-root", str(tmp_path))
    assert result.returncode == 2
    assert "unknown hyper-parameter 'speed'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_names_every_hyper_parameter_a_grid_may_vary() -> None:
    """The list is written out (the help must not import torch); this keeps it complete."""
    import re

    from workbench.cli.sweep import DESCRIPTION
    from workbench.engine.sweep import PARAMS

    listed = set(re.findall(r"[a-z][a-z-]+", DESCRIPTION.split("one of the")[1].split(".")[0]))
    assert set(PARAMS) <= listed
