"""Images in the terminal: Kitty/Sixel graphics where the terminal has them, half-blocks
otherwise (tmux, tests), via textual-image.

textual-image asks the terminal what it supports when it is first imported; ``workbench``
imports it before the app starts (see ``workbench.__main__``). Without a terminal its automatic
choice is coarse shade characters, so then half-cell blocks are chosen explicitly.
"""

from __future__ import annotations

import numpy as np
from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_image.renderable import Image as AutoRenderable
from textual_image.renderable.unicode import Image as UnicodeRenderable
from textual_image.widget import HalfcellImage
from textual_image.widget import Image as AutoImage

ImageWidget = HalfcellImage if AutoRenderable is UnicodeRenderable else AutoImage
"""The widget class for images: the terminal's best, but never the coarse unicode fallback."""


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
        yield ImageWidget(to_pil(self.pixels), classes="thumb-image")
        if self.caption:
            yield Static(self.caption, classes="thumb-caption")
