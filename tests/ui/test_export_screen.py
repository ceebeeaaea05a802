"""The Export screen: the artefact list, and writing the chosen files into a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Input, SelectionList

from tests.ui.helpers import settle, workers_done
from workbench.screens.export import ExportScreen


async def _ready(app, pilot) -> ExportScreen:  # type: ignore[no-untyped-def]
    await workers_done(pilot)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ExportScreen)
    return screen


async def _export_backprop(app, pilot, out: Path) -> ExportScreen:  # type: ignore[no-untyped-def]
    """Tick only the backprop artefact, point the folder at ``out`` and press x."""
    screen = await _ready(app, pilot)
    screen.refresh_choices(None)
    await workers_done(pilot)
    await pilot.pause()
    await pilot.press("n")
    screen.query_one("#ex-list", SelectionList).select("backprop")
    screen.query_one("#ex-out", Input).value = str(out)
    await pilot.press("x")
    await workers_done(pilot)
    return screen


async def test_lists_every_artefact_with_what_applies(make_app) -> None:  # type: ignore[no-untyped-def]
    from workbench.engine.export.registry import ARTEFACTS

    app = make_app(start_mode="export", preload=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(app, pilot)
        screen.refresh_choices(None)
        await workers_done(pilot)
        await pilot.pause()
        assert [c.name for c in screen.choices] == [a.name for a in ARTEFACTS]
        reasons = {c.name: c.reason for c in screen.choices}
        assert reasons["autograd"] is None and reasons["backprop"] is None
        assert reasons["confusion_matrix"] == "needs a trained run"
        # what does not apply is not ticked and cannot be
        assert "confusion_matrix" not in screen.selected()
        await pilot.press("n")
        assert screen.selected() == []
        await pilot.press("a")
        assert set(screen.selected()) == {n for n, r in reasons.items() if r is None}


async def test_writes_the_chosen_files(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    app = make_app(start_mode="export", preload=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _export_backprop(app, pilot, out)
        await pilot.pause()
        assert screen.last_result is not None
        written = sorted(p.name for p in out.iterdir())
        assert written == ["backprop_derivation.md", "vanishing_gradient.png"]
        assert sorted(p.name for p in screen.last_result.written) == written
        # the same bytes as the engine's own function writes (what --export calls)
        from workbench.engine.export.registry import Sources, export_all

        again = tmp_path / "again"
        export_all(Sources(), again, names=["backprop"])
        for name in written:
            if name.endswith(".md"):
                assert (again / name).read_text() == (out / name).read_text()


async def test_newest_finished_run_is_preselected(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.ui.rundirs import write_run

    run_dir = runs_root / "done"
    write_run(run_dir, epochs_done=2, epochs=2)
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    (run_dir / "checkpoints" / "best.pt").write_bytes(b"")  # only its presence is read here
    # the run `workbench --export` would pick: the newest finished one for the session's data
    # (write_run's runs are on the demo set; a newer run on other data is not picked)
    other = runs_root / "other-data"
    write_run(other, epochs_done=2, epochs=2)
    document = json.loads((other / "config.json").read_text())
    document["data"]["data"] = "/somewhere/else"
    (other / "config.json").write_text(json.dumps(document))
    (other / "checkpoints").mkdir(exist_ok=True)
    (other / "checkpoints" / "best.pt").write_bytes(b"")
    app = make_app(start_mode="export", preload=False, data=None)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(app, pilot)
        screen.action_reload()
        await settle(pilot)  # the list, then the choices for the run it preselects
        assert screen.run_path == str(run_dir)
        assert screen.query_one("#ex-out", Input).value == str(Path("exports") / "done")
        reasons = {c.name: c.reason for c in screen.choices}
        assert reasons["confusion_matrix"] is None
        assert "confusion_matrix" in screen.selected()


async def test_ticked_and_unticked_rows_differ_without_colour(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Under NO_COLOR (or any monochrome terminal) a tick must show in the characters: Textual's
    list draws ▐X▌ for ticked and unticked rows alike and tells them apart by colour only."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(start_mode="export", preload=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        screen.refresh_choices(None)
        await workers_done(pilot)
        await pilot.pause()
        await pilot.press("n")
        selection = screen.query_one("#ex-list", SelectionList)
        selection.select("backprop")
        await pilot.pause()

        def row(name: str) -> str:
            return selection.render_line(selection.get_option_index(name)).text

        ticked, unticked = row("backprop"), row("autograd")
        assert " backprop " in ticked and " autograd " in unticked
        assert ticked[:3] != unticked[:3], (ticked, unticked)
        unavailable = row("confusion_matrix")  # not ticked and cannot be: marked as unticked
        assert unavailable[:3] == unticked[:3]


async def test_a_failed_export_says_why_whole_at_80_columns(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An output folder below a file: the status line names the path and the problem in words
    (no ``[Errno 20]``), wrapped rather than cut at 80 columns."""
    from textual.widgets import Label

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "exports"
    app = make_app(start_mode="export", preload=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _export_backprop(app, pilot, out)
        await pilot.pause()
        label = screen.query_one("#progress-label", Label)
        shown = "".join(
            strip.text for strip in label.render_lines(label.region.reset_offset)
        ).replace(" ", "")
        assert "Errno" not in shown
        assert "notafolder" in shown  # "a part of this path is a file, not a folder"
        assert str(out).replace(" ", "") in shown  # the whole path, not cut at the edge
