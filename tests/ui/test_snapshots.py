"""Snapshots of screens whose content is deterministic (pytest-textual-snapshot).

Regenerate after an intended change with ``pytest tests/ui/test_snapshots.py --snapshot-update``
and look at the SVGs in ``tests/ui/__snapshots__`` before committing them.
"""

from __future__ import annotations

from pathlib import Path

from tests.ui.helpers import settle
from tests.ui.rundirs import write_run


async def _settle(pilot) -> None:  # type: ignore[no-untyped-def]
    await settle(pilot)


def test_runs_screen_with_overlay(snap_compare, make_app, runs_root: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(runs_root.parent)  # the screen names its folder: keep it "runs"
    write_run(runs_root / "lr-0.001", epochs_done=4, epochs=4, lr=1e-3, pid=0)
    write_run(runs_root / "lr-0.0003", epochs_done=3, epochs=6, end="stopped", lr=3e-4, pid=0)

    async def mark_both(pilot) -> None:  # type: ignore[no-untyped-def]
        await _settle(pilot)
        await pilot.press("space", "down", "space")
        await pilot.pause()

    app = make_app(start_mode="runs", runs_root="runs")
    assert snap_compare(app, terminal_size=(120, 36), run_before=mark_both)


def test_train_form_at_80x24(snap_compare, make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="train")
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle)


def test_runs_help(snap_compare, make_app) -> None:  # type: ignore[no-untyped-def]
    async def open_help(pilot) -> None:  # type: ignore[no-untyped-def]
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    # A relative runs folder: the screen behind the help names it, and an absolute temporary
    # path would make the picture depend on the machine (the autouse fixture works in tmp_path).
    app = make_app(start_mode="runs", runs_root="runs", preload=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_help)
