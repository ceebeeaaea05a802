"""Renderables and widgets for a test evaluation: metrics table, confusion grid, softmax bars,
Grad-CAM overlays.

Pure presentation of what :mod:`workbench.engine.evaluate` computed (a ``TestReport``, an
``Evaluation``): counts, rates, probabilities and Grad-CAM maps come from the engine; here they are
only laid out, coloured and blended with the image for display.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from workbench.widgets.images import image_widget, to_pil

if TYPE_CHECKING:
    pass


def heat_colours(cam: np.ndarray) -> np.ndarray:
    """A jet-like colouring of a [0, 1] map: float (H, W, 3) in [0, 1]."""
    value = np.clip(np.asarray(cam, dtype=np.float32), 0.0, 1.0)[..., None]
    centres = np.array([3.0, 2.0, 1.0], dtype=np.float32)  # red, green, blue
    return np.clip(1.5 - np.abs(4.0 * value - centres), 0.0, 1.0)


def cam_overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The uint8 HWC ``image`` with a Grad-CAM ``cam`` (H, W in [0, 1]) blended over it."""
    base = np.asarray(image, dtype=np.float32)
    heat = heat_colours(cam) * 255.0
    if heat.shape[:2] != base.shape[:2]:
        from PIL import Image as PILImage

        resized = PILImage.fromarray(np.uint8(np.clip(cam, 0, 1) * 255)).resize(
            (base.shape[1], base.shape[0]), PILImage.Resampling.BILINEAR
        )
        heat = heat_colours(np.asarray(resized, dtype=np.float32) / 255.0) * 255.0
    return np.clip((1 - alpha) * base + alpha * heat, 0, 255).astype(np.uint8)


class ScoredThumb(Vertical):
    """A test image, a caption and its softmax bars below."""

    DEFAULT_CSS = """
    ScoredThumb { width: auto; height: auto; margin: 0 1 1 0; }
    ScoredThumb > .scored-image { width: 18; height: 9; }
    ScoredThumb > .scored-caption { width: 18; height: auto; max-height: 2; color: $text-muted; }
    ScoredThumb > .scored-bars { width: 18; height: auto; }
    """

    def __init__(
        self,
        image: np.ndarray,
        caption: str | Text,
        bars: Text | None = None,
        *,
        classes: str | None = None,
    ) -> None:
        super().__init__(classes=classes)
        self.pixels = image
        self.caption = caption
        self.bars = bars

    def compose(self) -> ComposeResult:
        yield image_widget(to_pil(self.pixels), classes="scored-image")
        yield Static(self.caption, classes="scored-caption")
        if self.bars is not None:
            yield Static(self.bars, classes="scored-bars")
