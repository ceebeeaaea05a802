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


def test_help_names_every_hyper_parameter_a_grid_may_vary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The help lists the grid names (without importing torch), and the grid takes them all."""
    import re

    from workbench.__main__ import main
    from workbench.engine.sweep import grid_params, parse_grid

    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    sentence = text.split("one of the `workbench train` options:")[1].split(".")[0]
    listed = set(re.findall(r"[a-z][a-z-]+", sentence)) - {"on", "off"}
    assert listed == set(grid_params())
    assert {"lr", "loss", "batch-size", "residual", "image-size", "seed"} <= listed
    assert "device" not in listed and "widths" not in listed  # not what a sweep compares
    assert parse_grid([f"{name}=1" for name in ("lr", "epochs")]).names == ["lr", "epochs"]
