"""A damaged run never stops its neighbours (issue 12, section 3): ``--export`` choosing the
newest finished run, the loss comparison, sweeps and the TUI's Runs table each pass over the
damaged run (and say so) and go on with the others."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.reliability.rundir_helpers import (
    JSON_FILES,
    METRIC_FILES,
    cases_for,
    copy_run,
    damage,
    snapshot,
    stopped_run,
)
from tests.support.tiny_run import tiny_run, tiny_run_config
from tests.ui.helpers import settle
from workbench.engine.runs import CONFIG, Run

pytestmark = pytest.mark.timeout(120)

CHOICE_READS = (*JSON_FILES, *METRIC_FILES, "checkpoints/best.pt")
COMPARISON_READS = (*JSON_FILES, "metrics/val.txt")
TABLE_READS = (*JSON_FILES, *METRIC_FILES)


def _finished_copy(destination: Path, *, loss: str = "ce", mtime: float | None = None) -> Path:
    """A copy of the session's finished run; ``loss`` rewritten in its config.json (as if it
    had trained with it); ``mtime`` of config.json (what 'newest' is decided by)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(tiny_run().run_dir, destination)
    path = destination / CONFIG
    path.write_text(path.read_text().replace('"loss": "ce"', f'"loss": "{loss}"'))
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return destination


# ----------------------------------------------------------------- --export's run choice


@pytest.mark.parametrize(("relative", "kind"), cases_for(CHOICE_READS))
def test_export_passes_over_the_newest_run_when_it_is_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], relative: str, kind: str
) -> None:
    from workbench.cli.export import finished_run_for

    root = tmp_path / "runs"
    _finished_copy(root / "older", mtime=1_000_000)
    damage(_finished_copy(root / "newer", mtime=2_000_000), relative, kind)
    chosen = finished_run_for(tiny_run().config.data.data, root)
    assert chosen is not None and chosen.id == "older"
    assert f"newer/{relative}" in capsys.readouterr().err


def test_control_export_takes_the_newest_run_when_it_is_sound(tmp_path: Path) -> None:
    from workbench.cli.export import finished_run_for

    root = tmp_path / "runs"
    _finished_copy(root / "older", mtime=1_000_000)
    _finished_copy(root / "newer", mtime=2_000_000)
    chosen = finished_run_for(tiny_run().config.data.data, root)
    assert chosen is not None and chosen.id == "newer"


# ----------------------------------------------------------------------- loss comparison


def _comparison_folder(root: Path) -> tuple[Run, Path]:
    own = Run(_finished_copy(root / "a-ce"))
    _finished_copy(root / "b-focal", loss="focal")
    return own, _finished_copy(root / "c-smooth", loss="label_smoothing")


@pytest.mark.parametrize(("relative", "kind"), cases_for(COMPARISON_READS))
def test_loss_comparison_leaves_a_damaged_run_out(tmp_path: Path, relative: str, kind: str) -> None:
    from workbench.engine.export.registry import Sources, comparison_runs

    own, other = _comparison_folder(tmp_path / "runs")
    damage(other, relative, kind)
    assert [run.id for run in comparison_runs(Sources(run=own))] == ["a-ce", "b-focal"]


def test_control_loss_comparison_counts_every_sound_run(tmp_path: Path) -> None:
    from workbench.engine.export.registry import Sources, comparison_runs

    own, _ = _comparison_folder(tmp_path / "runs")
    ids = [run.id for run in comparison_runs(Sources(run=own))]
    assert ids == ["a-ce", "b-focal", "c-smooth"]


@pytest.mark.slow
def test_loss_comparison_export_leaves_out_a_run_whose_checkpoint_is_damaged(
    tmp_path: Path,
) -> None:
    from workbench.engine.export.registry import Sources, export_all

    own, other = _comparison_folder(tmp_path / "runs")
    damage(other, "checkpoints/best.pt", "truncated")
    tiny = tiny_run()
    sources = Sources(data_config=tiny.config.data, run=own)
    written = export_all(sources, tmp_path / "out", names=["loss_comparison"]).written
    table = (tmp_path / "out" / "loss_comparison.csv").read_text()
    assert tmp_path / "out" / "loss_comparison.csv" in written
    assert "focal" in table and "ce" in table and "label_smoothing" not in table


# --------------------------------------------------------------------------------- sweeps


@pytest.mark.parametrize(
    ("relative", "kind"),
    [("status.json", "wrong_json_type"), ("checkpoints/last.pt", "truncated")],
)
def test_a_sweep_skips_a_damaged_run_and_trains_the_next(
    tmp_path: Path, relative: str, kind: str
) -> None:
    from workbench.engine.sweep import parse_grid, plan_sweep, read_sweep, run_sweep

    base = stopped_run()
    config = tiny_run_config(base.data_dir, base.cache_dir, epochs=1)
    plan = plan_sweep(parse_grid(["lr=1e-3,2e-3"]), config, tmp_path / "sweep")
    first = copy_run(plan.entries[0].path)  # a stopped run there, then damaged
    damage(first, relative, kind)
    before = snapshot(first)
    result = run_sweep(plan)
    (skipped, trained) = result.outcomes
    assert (skipped.action, skipped.state) == ("skipped", "unreadable")
    assert f"{first.name}/{relative}" in skipped.message
    assert (trained.action, trained.state) == ("started", "finished")
    assert snapshot(first) == before
    assert [row.state for row in read_sweep(plan.root).rows] == [
        "unreadable" if relative == "status.json" else "stopped",
        "finished",
    ]


# ------------------------------------------------------------------------- the Runs table


async def test_runs_table_lists_each_damaged_run_as_unreadable_and_the_good_one_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.app import WorkbenchApp
    from workbench.screens.runs import COLUMNS, RunsScreen

    monkeypatch.chdir(tmp_path)
    root = tmp_path / "runs"
    copy_run(root / "good")
    damaged = {}
    for number, case in enumerate(cases_for(TABLE_READS)):
        relative, kind = case.values  # type: ignore[attr-defined]
        name = f"d{number:02d}"
        damage(copy_run(root / name), relative, kind)
        damaged[name] = relative
    base = stopped_run()
    app = WorkbenchApp(
        data=str(base.data_dir), runs_root=root, cache_dir=str(base.cache_dir), start_mode="runs"
    )
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.query_one(DataTable)
        rows = {
            str(table.get_row_at(i)[1]): dict(zip(COLUMNS, table.get_row_at(i), strict=True))
            for i in range(table.row_count)
        }
    assert set(rows) == {"good", *damaged}
    assert rows["good"]["status"] == "stopped" and rows["good"]["epochs"] == "1/2"
    assert rows["good"]["best val"] not in ("", "–")
    for name, relative in damaged.items():
        assert str(rows[name]["status"]).startswith(f"unreadable: {relative}: "), rows[name]
