"""Image tiles that grow with the terminal and fit it, and image panes that scroll from the
keyboard without first tabbing through the fields (80×24 and 160×50)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.widget import Widget
from textual.widgets import Footer, TabbedContent

from tests.ui.helpers import settle
from workbench.screens.data import DataScreen
from workbench.screens.evaluate import EvaluateScreen
from workbench.widgets.images import ImageWidget, Thumb

TermSize = tuple[int, int]
SIZES: list[TermSize] = [(80, 24), (160, 50)]


def images_in(container: Widget) -> list[Widget]:
    return list(container.query(ImageWidget))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x50"])
async def test_data_tiles_fill_the_width(
    make_app, tiny_images: Path, size: tuple[int, int]
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(data=str(tiny_images), start_mode="data")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DataScreen) and screen.prepared is not None
        await pilot.press("right_square_bracket")
        await pilot.pause()
        grid = screen.query_one("#image-grid")
        row = next(r for r in grid.query(".grid-row") if len(r.query(Thumb)) == 5)
        tiles = images_in(row)
        left, right = tiles[0].region.x, tiles[-1].region.right
        assert right <= grid.content_region.right  # the fifth is whole
        assert right - left >= 0.85 * grid.scrollable_content_region.width  # and the row fills
        for tile in tiles:  # square pictures: two pixels a cell high, one wide
            assert abs(tile.region.height * 2 - tile.region.width) <= 1, tile.region
        # a split with fewer than 5 images of a class (val here) keeps the same tile size
        widths = [tile.size.width for tile in images_in(grid)]  # grid columns: ±1 cell
        assert max(widths) - min(widths) <= 1


class FirstTen:
    """What the First-10 tab reads of an evaluation: 10 test images for each of 3 classes."""

    classes = ("cat", "dog", "panda")

    def __init__(self) -> None:
        self.images = [np.full((64, 64, 3), 8 * i, dtype=np.uint8) for i in range(30)]
        self.paths = [f"test/{i:03d}.png" for i in range(30)]
        self.predictions = [i // 10 if i % 4 else (i // 10 + 1) % 3 for i in range(30)]

    def first_per_class(self, count: int) -> dict[int, list[int]]:
        return {label: list(range(10 * label, 10 * label + count)) for label in range(3)}


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x50"])
async def test_first_ten_fit_the_width(make_app, size: TermSize) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="evaluate", preload=False)
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        assert isinstance(screen, EvaluateScreen)
        screen.evaluation = FirstTen()  # type: ignore[assignment]
        await screen.draw_first()
        await pilot.press("f")
        await pilot.pause()
        holder = screen.query_one("#ev-first")
        tiles = images_in(holder)
        assert len(tiles) == 30
        # every class's pictures, drawn while the tab was hidden, are whole pictures once shown
        assert all(tile.size.height * 2 >= tile.size.width - 1 > 0 for tile in tiles)
        first_row = tiles[:10]
        for tile in first_row:
            assert tile.region.right <= holder.content_region.right, tile.region
            assert tile.region.width >= 12  # still a picture, not a stamp
        if size[0] >= 120:  # the ten of a class on one line when there is room
            assert len({tile.region.y for tile in first_row}) == 1
        else:  # two lines of five: more than a screen, and the keys scroll it as on Data
            assert holder.max_scroll_y > 0
            await pilot.press("pagedown")
            await pilot.pause()
            assert holder.scroll_y > 0


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x50"])
async def test_image_grid_scrolls_from_the_keyboard(
    make_app, tiny_images: Path, size: tuple[int, int]
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(data=str(tiny_images), start_mode="data")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.query_one(TabbedContent).active == "tab-grid"
        grid = screen.query_one("#image-grid")
        assert grid.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        paged = grid.scroll_y
        assert paged > 0
        await pilot.press("down")
        await pilot.pause()
        assert grid.scroll_y > paged
        await pilot.press("up", "pageup")
        await pilot.pause()
        assert grid.scroll_y == 0
        assert app.focused is None or app.focused.id != "data-path"  # no key went to the field
        # the footer says so, whole, at 80 columns too
        keys = screen.query_one(Footer).query("FooterKey")
        scroll = next(key for key in keys if "Scroll" in str(key.render()))
        assert "PgUp PgDn" in str(scroll.render()) and scroll.region.right <= size[0]
