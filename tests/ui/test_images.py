"""Pictures in a terminal without truecolor (tmux over SSH): dithered onto the colours the
terminal shows, so that a cat stays cat-coloured instead of rounding to olive blocks."""

from __future__ import annotations

import numpy as np
import pytest
from rich.color import Color, ColorSystem
from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual_image.renderable.halfcell import Image as PlainHalfcell

from workbench.widgets.images import ImageWidget, Thumb, to_pil


def cat_patch() -> np.ndarray:
    """A 64×64 patch of cat-fur brown with a little noise: low saturation, between the xterm
    cube's levels, where the nearest-colour downgrade is furthest off."""
    rng = np.random.default_rng(0)
    fur = np.array([150.0, 120.0, 90.0]) + rng.normal(0.0, 4.0, (64, 64, 3))
    return np.clip(fur, 0, 255).astype(np.uint8)


def gradient() -> np.ndarray:
    """A smooth orange → blue gradient, left to right."""
    t = np.linspace(0.0, 1.0, 64)[None, :, None]
    row = (1 - t) * np.array([255.0, 140.0, 0.0]) + t * np.array([30.0, 90.0, 220.0])
    return np.repeat(row, 64, axis=0).astype(np.uint8)


class ThumbApp(App[None]):
    def __init__(self, picture: np.ndarray) -> None:
        super().__init__()
        self.picture = picture

    def compose(self) -> ComposeResult:
        yield Thumb(self.picture)


@pytest.fixture
def tmux_256(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment tmux gives over SSH by default: 256 colours, no COLORTERM."""
    monkeypatch.setenv("TERM", "tmux-256color")
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def cell_colours(segments: list[Segment]) -> list[Color]:
    """The colour of every half cell: foreground (upper) and background (lower)."""
    colours = []
    for segment in segments:
        if segment.text == "▀" and segment.style is not None:
            assert segment.style.color is not None and segment.style.bgcolor is not None
            colours += [segment.style.color, segment.style.bgcolor]
    return colours


def shown(colours: list[Color], system: ColorSystem) -> np.ndarray:
    """What the terminal shows: each colour after the console's downgrade to ``system``."""
    triplets = [tuple(c.downgrade(system).get_truecolor()) for c in colours]
    return np.array(triplets, dtype=np.float64)


@pytest.mark.parametrize("picture", [cat_patch(), gradient()], ids=["cat", "gradient"])
async def test_pictures_in_256_colours_are_dithered(tmux_256: None, picture: np.ndarray) -> None:
    app = ThumbApp(picture)
    async with app.run_test(size=(40, 16)):
        assert app.console.color_system == "256"
        widget = app.query_one(ImageWidget)
        width, height = widget.size
        assert (width, height) == (16, 8)
        strips = widget.render_lines(Region(0, 0, width, height))
        colours = cell_colours([segment for strip in strips for segment in strip])
        # textual-image's own half-cells on the same console: the path before the fix
        plain = PlainHalfcell(to_pil(picture), width, height)
        options = app.console.options.update_dimensions(width, height)
        old = cell_colours(list(app.console.render(plain, options)))
    assert len(colours) == len(old) == width * height * 2
    system = ColorSystem.EIGHT_BIT
    # every colour emitted is already a palette colour: the downgrade changes nothing
    assert all(c.get_truecolor() == c.downgrade(system).get_truecolor() for c in colours)
    assert all(c.downgrade(system).number >= 16 for c in colours)  # not the themed 16
    target = picture.reshape(-1, 3).mean(axis=0)
    # dithering keeps the picture's mean colour; per half of the picture too (the gradient's
    # orange and blue halves)
    assert np.abs(shown(colours, system).mean(axis=0) - target).max() < 4.0
    left = shown(colours, system).reshape(height, width, 2, 3)[:, : width // 2].reshape(-1, 3)
    assert np.abs(left.mean(axis=0) - picture[:, :32].reshape(-1, 3).mean(axis=0)).max() < 6.0
    if picture[..., 0].std() < 10:  # the flat cat-fur patch
        # the nearest-colour downgrade rounds every pixel the same way: olive, not brown
        assert np.abs(shown(old, system).mean(axis=0) - target).max() > 10.0


async def test_truecolor_pictures_are_not_dithered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLORTERM", "truecolor")
    picture = cat_patch()
    app = ThumbApp(picture)
    async with app.run_test(size=(40, 16)):
        assert app.console.color_system == "truecolor"
        widget = app.query_one(ImageWidget)
        strips = widget.render_lines(Region(0, 0, *widget.size))
        colours = cell_colours([segment for strip in strips for segment in strip])
    triplets = {tuple(c.get_truecolor()) for c in colours}
    assert len(triplets) > 50  # the picture's own shades, not a palette's handful


@pytest.mark.parametrize("mode", ["data", "evaluate"])
async def test_help_says_how_to_get_truecolor_in_tmux(make_app, mode: str) -> None:  # type: ignore[no-untyped-def]
    from workbench.screens.help import help_markdown

    app = make_app(start_mode=mode, preload=False)
    async with app.run_test(size=(100, 30)):
        text = help_markdown(app.screen)
    assert 'set -as terminal-features ",*:RGB"' in text and "COLORTERM=truecolor" in text
