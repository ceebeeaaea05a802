"""Damaged run files (issue 12, section 3): every reader of the run-directory contract says in
one line which file is damaged and how, and exits 2; a damaged run never stops its neighbours.

The matrix: each file a user's disk can damage (config.json, status.json, both metric tables,
events.jsonl, last.pt, best.pt) x each damage (truncated, empty, the wrong JSON type, values of
the wrong type, garbage lines) x each reader that reads that file (``eval``, ``--export --run``,
``train --resume``, the Runs table). The readers run in-process through ``workbench``'s own
``main(argv)`` on copies of one real stopped run; a reader that does not read a file is shown to
work with that file damaged (``control`` tests), so a refusal is the damage's doing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.rundir_helpers import (
    CASES,
    CHECKPOINTS,
    EVENTS,
    JSON_FILES,
    METRIC_FILES,
    cases_for,
    copy_run,
    damage,
    one_error_line,
    snapshot,
    stopped_run,
)
from workbench.__main__ import main
from workbench.engine.runs import Run

pytestmark = pytest.mark.timeout(120)

EVAL_READS = ("config.json", "checkpoints/best.pt")
EXPORT_READS = (*JSON_FILES, *METRIC_FILES, "checkpoints/best.pt")
TABLE_READS = (*JSON_FILES, *METRIC_FILES)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default output folders (exports/, runs/) land in the test's folder, never the repo."""
    monkeypatch.chdir(tmp_path)


def _eval(run_dir: Path, out: Path) -> int:
    cache = str(stopped_run().cache_dir)
    return main(["eval", str(run_dir), "--cache-dir", cache, "--out", str(out), "--device", "cpu"])


def _export(run_dir: Path, out: Path) -> int:
    cache = str(stopped_run().cache_dir)
    return main(["--export", "--run", str(run_dir), "--out", str(out), "--cache-dir", cache])


def _resume(run_dir: Path) -> int:
    cache = str(stopped_run().cache_dir)
    argv = ["train", "--run-dir", str(run_dir), "--resume", "--cache-dir", cache]
    return main([*argv, "--device", "cpu", "--num-workers", "0"])


def _refused(capsys: pytest.CaptureFixture[str], run_dir: Path, relative: str) -> str:
    line = one_error_line(capsys.readouterr().err)
    assert f"{run_dir.name}/{relative}" in line, line
    return line


# ------------------------------------------------------------------------------ the matrix


@pytest.mark.parametrize(("relative", "kind"), cases_for(EVAL_READS))
def test_eval_names_the_damaged_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], relative: str, kind: str
) -> None:
    run_dir = copy_run(tmp_path / "runs" / "r")
    damage(run_dir, relative, kind)
    out = tmp_path / "out"
    assert _eval(run_dir, out) == 2
    _refused(capsys, run_dir, relative)
    assert not out.exists()


@pytest.mark.parametrize(("relative", "kind"), cases_for(EXPORT_READS))
def test_export_names_the_damaged_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], relative: str, kind: str
) -> None:
    run_dir = copy_run(tmp_path / "runs" / "r")
    damage(run_dir, relative, kind)
    out = tmp_path / "out"
    assert _export(run_dir, out) == 2
    _refused(capsys, run_dir, relative)
    assert not out.exists()  # found before anything is written


@pytest.mark.parametrize(("relative", "kind"), CASES)
def test_resume_names_the_damaged_file_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], relative: str, kind: str
) -> None:
    run_dir = copy_run(tmp_path / "runs" / "r")
    damage(run_dir, relative, kind)
    before = snapshot(run_dir)
    assert _resume(run_dir) == 2
    _refused(capsys, run_dir, relative)
    assert snapshot(run_dir) == before


@pytest.mark.parametrize(("relative", "kind"), cases_for(TABLE_READS))
def test_runs_table_lists_a_damaged_run_as_unreadable(
    tmp_path: Path, relative: str, kind: str
) -> None:
    from workbench.screens.runs import read_run_rows

    root = tmp_path / "runs"
    good = copy_run(root / "good")
    damage(copy_run(root / "damaged"), relative, kind)
    rows = {row.path.name: row.cells for row in read_run_rows(root)}
    assert rows["damaged"][2].startswith(f"unreadable: {relative}: "), rows["damaged"]
    assert rows["good"][2] == "stopped" and rows["good"][5] == "1/2"
    assert Run(good).status() is not None


# ---------------------------------------------------------- readers that do not read a file


def test_control_resume_of_the_undamaged_copy_continues_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = copy_run(tmp_path / "runs" / "r")
    assert _resume(run_dir) == 0, capsys.readouterr().err
    run = Run(run_dir)
    assert [row.epoch for row in run.metrics("train")] == [1, 2]
    assert [row.epoch for row in run.metrics("val")] == [1, 2]
    status = run.status()
    assert status is not None and status.state == "finished"


def test_control_eval_works_with_the_files_it_does_not_read_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = copy_run(tmp_path / "runs" / "r")
    for relative in ("status.json", *METRIC_FILES, EVENTS, "checkpoints/last.pt"):
        damage(run_dir, relative, "garbage_lines")
    out = tmp_path / "out"
    assert _eval(run_dir, out) == 0, capsys.readouterr().err
    assert (out / "test_report.json").is_file()


def test_control_export_takes_a_run_whose_unread_files_are_damaged(tmp_path: Path) -> None:
    """The export's check of its run (before it writes anything) passes over the files the
    export never reads; the export itself is run end to end in tests/cli."""
    import argparse

    from workbench.cli.export import resolve_target

    run_dir = copy_run(tmp_path / "runs" / "r")
    for relative in (EVENTS, "checkpoints/last.pt"):
        damage(run_dir, relative, "garbage_lines")
    args = argparse.Namespace(run=str(run_dir), data=None, cache_dir=None)
    run, sweep = resolve_target(args)
    assert (run.path, sweep) == (run_dir, None)


def test_control_runs_table_shows_a_run_whose_unread_files_are_damaged(tmp_path: Path) -> None:
    from workbench.screens.runs import read_run_rows

    root = tmp_path / "runs"
    run_dir = copy_run(root / "r")
    for relative in (EVENTS, *CHECKPOINTS):
        damage(run_dir, relative, "garbage_lines")
    (row,) = read_run_rows(root)
    assert row.cells[2] == "stopped"


def test_resume_with_a_checkpoint_of_another_architecture_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sound file, wrong run: its weights are another network's. The run is left as it was
    (status.json was rewritten without the run's fields before)."""
    import torch

    from workbench.config import ModelConfig
    from workbench.engine.model import build_model

    run_dir = copy_run(tmp_path / "runs" / "r")
    last = run_dir / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    state["model"] = build_model(ModelConfig(widths=(8, 32), stem=0), 3).state_dict()
    torch.save(state, last)
    before = snapshot(run_dir)
    assert _resume(run_dir) == 2
    assert "another architecture" in _refused(capsys, run_dir, "checkpoints/last.pt")
    assert snapshot(run_dir) == before
