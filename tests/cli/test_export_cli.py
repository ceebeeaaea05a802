"""`workbench --export` end to end, in a subprocess, on tiny generated data."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.files import png_ok
from tests.support.tiny_run import tiny_run, write_tinted_folder
from workbench.cli import export as export_cli
from workbench.engine.export.registry import ARTEFACTS
from workbench.engine.runs import list_runs


@pytest.mark.slow
def test_export_on_a_fresh_folder_trains_a_quick_run_then_writes_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_tinted_folder(tmp_path / "images")
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli("--export", "--data", str(data), "--cache-dir", str(tmp_path / "c"), cwd=work)
    assert result.returncode == 0, result.stderr
    assert "training a quick one" in result.stderr
    # a quick run is never passed off as the assignment's recipe (the notebook warns too)
    assert "not the assignment's full recipe" in result.stderr
    runs = list_runs(work / "runs")
    assert len(runs) == 1
    run = runs[0]
    status = run.status()
    assert status is not None and status.state == "finished"
    assert run.config().data.data == str(data.resolve())
    out = work / "exports" / run.id
    declared = {f for a in ARTEFACTS if a.name not in ("sweep", "loss_comparison") for f in a.files}
    assert {p.name for p in out.iterdir()} == declared
    listed = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert sorted(Path(line).name for line in listed) == sorted(declared)
    for name in declared:
        if name.endswith(".png"):
            png_ok(out / name, min_width=200, min_height=150)
    assert "test accuracy" in result.stdout

    # a second export reuses the finished run instead of training again (decided where the
    # export decides it; writing every artefact twice would only repeat the check above)
    monkeypatch.chdir(work)
    monkeypatch.setattr(export_cli, "train_quick", _must_not_train)
    args = argparse.Namespace(run=None, data=str(data), cache_dir=str(tmp_path / "c"))
    again, sweep = export_cli.resolve_target(args)
    assert (again.id, sweep) == (run.id, None)


def _must_not_train(*args: object) -> None:
    raise AssertionError("a second export trained again")


def test_export_to_a_folder_that_cannot_be_written(tmp_path: Path) -> None:
    tiny = tiny_run()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli("--export", "--run", str(tiny.run_dir), "--out", str(blocker / "sub"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(blocker / "sub") in lines[0], result.stderr


def test_export_of_something_that_is_not_a_run(tmp_path: Path) -> None:
    result = run_cli("--export", "--run", str(tmp_path), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "not a run directory" in result.stderr


def test_export_of_a_sweep_folder_uses_its_best_run(tmp_path: Path) -> None:
    """In process: --run SWEEP picks the sweep's best run and adds the sweep figures."""
    import argparse

    from tests.support.tiny_run import tiny_run_config
    from workbench.cli.export import resolve_target
    from workbench.engine.export.registry import Sources, export_all
    from workbench.engine.sweep import parse_grid, plan_sweep, read_sweep, run_sweep

    tiny = tiny_run()
    base = tiny_run_config(tiny.data_dir, tiny.cache_dir, epochs=1)
    plan = plan_sweep(parse_grid(["lr=3e-3,1e-3"]), base, tmp_path / "sweep")
    run_sweep(plan)
    args = argparse.Namespace(run=str(plan.root), data=None, cache_dir=None, out=None)
    run, sweep = resolve_target(args)
    best = read_sweep(plan.root).best
    assert sweep == plan.root and best is not None and run.path == best.path
    sources = Sources(data_config=run.config().data, run=run, sweep=sweep)
    result = export_all(sources, tmp_path / "out", names=["sweep", "metrics"])
    assert {"sweep_lr.png", "sweep_summary.txt", "metrics_loss.png"} <= {
        p.name for p in result.written
    }
