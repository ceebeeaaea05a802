"""The Data screen: scan report, split table, 45-image grid, augmentations, one-hot sample."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Static, TabbedContent

from tests.ui.helpers import settle
from workbench.screens.data import DataScreen


async def _loaded(app, pilot) -> DataScreen:  # type: ignore[no-untyped-def]
    # The load worker posts its results; previews and the sample are new workers after that.
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, DataScreen)
    return screen


async def test_scan_split_grid_and_one_hot(make_app, tiny_images: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(data=str(tiny_images), start_mode="data")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(app, pilot)
        assert not screen.busy and screen.prepared is not None
        table = screen.query_one("#split-table", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert screen.split is not None
        counts = screen.split.counts()  # the engine's numbers, shown as they are
        assert rows[0] == ["cat", *(str(counts["cat"][s]) for s in ("train", "val", "test")), "14"]
        assert rows[-1][0] == "all" and rows[-1][-1] == "42"
        assert screen.split.fingerprint in str(screen.query_one("#fingerprint", Static).render())
        assert "notes.txt" in str(screen.query_one("#skipped", Static).render())
        expected = sum(min(5, n) for c in counts.values() for n in c.values())
        assert screen.grid_count() == expected
        assert app.class_names == ("cat", "dog", "panda")
        one_hot = str(screen.query_one("#one-hot", Static).render())
        assert "one-hot [1, 0, 0]" in one_hot
        assert len(screen.preview_captions) == 8 and all(screen.preview_captions)


async def test_augment_keys_redraw_and_switch_backend(make_app, tiny_images: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(data=str(tiny_images), start_mode="data")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _loaded(app, pilot)
        first = list(screen.preview_captions)
        await pilot.press("n")
        await _loaded(app, pilot)
        assert screen.query_one(TabbedContent).active == "tab-augment"
        assert screen.augment_seed == 1 and screen.preview_captions != first
        await pilot.press("b")
        await _loaded(app, pilot)
        assert screen.backend == "albumentations"
        assert len(screen.preview_captions) == 8


async def test_bad_path_is_reported_not_fatal(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(data=str(tmp_path / "nowhere"), start_mode="data")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _loaded(app, pilot)
        assert not screen.busy and screen.prepared is None
        assert any("nowhere" in n.message for n in app._notifications)
        await pilot.press("e")
        assert isinstance(app.focused, Input)
        # number keys type into the field while it has the focus, and act again after escape
        await pilot.press("escape", "3")
        assert app.current_mode == "runs"
