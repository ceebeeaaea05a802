"""Images in the terminal: Kitty/Sixel graphics where the terminal has them, half-blocks
otherwise (tmux, tests), via textual-image.

textual-image asks the terminal what it supports when it is first imported; ``workbench``
imports it before the app starts (see ``workbench.__main__``). Without a terminal its automatic
choice is coarse shade characters, so then half-cell blocks are chosen explicitly.

Half-blocks carry one colour per half cell. In a terminal without truecolor (tmux over SSH gives
``TERM=tmux-256color`` and no ``COLORTERM``), rich would round every pixel to its nearest palette
colour on output, which turns the browns and greys of a photo into dark-red and olive patches. So
there the picture is first dithered (Floyd–Steinberg) onto exactly the colours the terminal will
show: the errors spread over neighbouring cells and the colours average out to the picture's.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image as PILImage
from rich.color import STANDARD_PALETTE, Color, ColorSystem
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Static
from textual_image._terminal import get_cell_size
from textual_image.renderable import Image as AutoRenderable
from textual_image.renderable.halfcell import Image as HalfcellRenderable
from textual_image.renderable.unicode import Image as UnicodeRenderable
from textual_image.widget import HalfcellImage
from textual_image.widget import Image as GraphicsBase  # Sixel's widget, or the automatic one

PALETTE_SYSTEMS = {"256": ColorSystem.EIGHT_BIT, "standard": ColorSystem.STANDARD}
"""The console colour systems (``Console.color_system``) whose pictures are dithered first."""


@lru_cache(maxsize=len(PALETTE_SYSTEMS))
def exact_colours(system: ColorSystem) -> tuple[tuple[int, int, int], ...]:
    """The colours that come out of ``system``'s downgrade unchanged: for 256 colours the xterm
    cube and grey ramp (16–255, whose RGB values are fixed, unlike the 16 themed system colours),
    for 16 colours the ones rich assumes. Only these are emitted, so the downgrade is a no-op."""
    found = []
    for number in range(16, 256) if system == ColorSystem.EIGHT_BIT else range(16):
        # rich matches truecolor to 16 colours by its own standard palette, not the theme's
        triplet = (
            Color.from_ansi(number).get_truecolor()
            if system == ColorSystem.EIGHT_BIT
            else STANDARD_PALETTE[number]
        )
        if Color.from_triplet(triplet).downgrade(system).number == number:
            found.append((triplet.red, triplet.green, triplet.blue))
    return tuple(found)


@lru_cache(maxsize=len(PALETTE_SYSTEMS))
def palette_image(system: ColorSystem) -> PILImage.Image:
    """A PIL palette image of :func:`exact_colours`, built once, for ``Image.quantize``."""
    colours = list(exact_colours(system))
    colours += [colours[0]] * (256 - len(colours))  # PIL palettes have 256 entries
    palette = PILImage.new("P", (1, 1))
    palette.putpalette([value for colour in colours for value in colour])
    return palette


def dither(image: PILImage.Image, system: ColorSystem) -> PILImage.Image:
    """``image`` (RGB) in ``system``'s exact colours, Floyd–Steinberg dithered."""
    quantised = image.convert("RGB").quantize(
        palette=palette_image(system), dither=PILImage.Dither.FLOYDSTEINBERG
    )
    return quantised.convert("RGB")


@lru_cache(maxsize=4096)
def _cell_style(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Style:
    return Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom))


class PaletteHalfcell(HalfcellRenderable):
    """textual-image's half-cell renderable, dithered first where the console has a palette
    (the one place a picture becomes cells); in truecolor it is textual-image's own."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        system = PALETTE_SYSTEMS.get(console.color_system or "")
        if system is None:
            yield from super().__rich_console__(console, options)
            return
        # The size as textual-image computes it (its private fields, as of 0.12; the tests of
        # this path fail if they change).
        width, height = self._render_size.get_cell_size(
            options.max_width, options.max_height, get_cell_size()
        )
        if not width or not height:
            return
        scaled = self._image_data.pil_image.resize((width, height * 2))
        pixels = np.asarray(dither(scaled, system))
        for upper, lower in zip(pixels[0::2], pixels[1::2], strict=True):
            for top, bottom in zip(upper.tolist(), lower.tolist(), strict=True):
                yield Segment("▀", _cell_style(tuple(top), tuple(bottom)))
            yield Segment.line()


class _HeightFollowsWidth(Widget):
    """``height: auto`` from the width Textual offers and the picture's aspect. textual-image
    derives it from the widget's last laid-out width instead, which is 0 for pictures mounted in
    a hidden tab: a grid row then kept them 0 rows high when the tab was shown."""

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        picture = getattr(self, "image", None)
        height = self.styles.height
        if not isinstance(picture, PILImage.Image) or height is None or not height.is_auto:
            return super().get_content_height(container, viewport, width)
        cell = get_cell_size()  # the terminal's cell in pixels (about 1:2)
        return round(width * cell.width * picture.height / (picture.width * cell.height))


class PaletteHalfcellImage(_HeightFollowsWidth, HalfcellImage, Renderable=PaletteHalfcell):
    """The half-cell image widget, dithered in 256 or 16 colours."""


_GraphicsRenderable = GraphicsBase._Renderable


class GraphicsImage(_HeightFollowsWidth, GraphicsBase, Renderable=_GraphicsRenderable):  # type: ignore[misc, valid-type]
    """textual-image's widget for the terminal's own graphics (Kitty or Sixel)."""


ImageWidget: type[Widget] = (
    PaletteHalfcellImage
    if AutoRenderable in (UnicodeRenderable, HalfcellRenderable)
    else GraphicsImage  # Kitty or Sixel graphics: the terminal draws the pixels itself
)
"""The widget class for images: the terminal's graphics where it has them, else half-cells
(never textual-image's coarse unicode fallback)."""


def image_widget(image: PILImage.Image, *, classes: str | None = None) -> Widget:
    """An :data:`ImageWidget` showing ``image``."""
    return ImageWidget(image, classes=classes)  # type: ignore[arg-type]


def to_pil(image: np.ndarray) -> PILImage.Image:
    """A PIL image from uint8 HWC or CHW pixels."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] == 3 and array.shape[2] != 3:
        array = array.transpose(1, 2, 0)
    return PILImage.fromarray(np.ascontiguousarray(array, dtype=np.uint8))


class Thumb(Vertical):
    """An image with a caption under it."""

    DEFAULT_CSS = """
    Thumb { width: auto; height: auto; margin: 0 1 0 0; }
    Thumb > .thumb-image { width: 16; height: 8; }
    Thumb > .thumb-caption { width: 16; height: auto; max-height: 4; color: $text-muted; }
    """

    def __init__(self, image: np.ndarray, caption: str = "", *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.pixels = image
        self.caption = caption

    def compose(self) -> ComposeResult:
        yield image_widget(to_pil(self.pixels), classes="thumb-image")
        if self.caption:
            yield Static(self.caption, classes="thumb-caption")
