"""Shared fixtures: small image folders generated on the fly (no test touches real data).

``make_image_folder(counts)`` writes ``{class: n}`` random PNG images into a fresh folder and
returns its path; ``image_folder`` is a ready 3-class set (12 images each); ``cache_dir`` is a
fresh decode-cache folder so tests never share or pollute the user's cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

if TYPE_CHECKING:
    from tests.support.tiny_run import TinyRun

MakeFolder = Callable[..., Path]


def write_image(path: Path, rng: np.random.Generator, size: tuple[int, int] = (40, 32)) -> Path:
    """A random RGB PNG (or JPEG, by suffix) of ``size`` (width, height) with a class-ish tint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(path)
    return path


@pytest.fixture
def make_image_folder(tmp_path_factory: pytest.TempPathFactory) -> MakeFolder:
    """Factory: ``make_image_folder({"cats": 12, "dogs": 15}, seed=0, suffix=".png")``."""

    def make(
        counts: dict[str, int],
        *,
        seed: int = 0,
        suffix: str = ".png",
        size: tuple[int, int] = (40, 32),
        root: Path | None = None,
    ) -> Path:
        folder = root or tmp_path_factory.mktemp("images")
        rng = np.random.default_rng(seed)
        for name, count in counts.items():
            (folder / name).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                write_image(folder / name / f"{name}_{i:04d}{suffix}", rng, size)
        return folder

    return make


@pytest.fixture
def image_folder(make_image_folder: MakeFolder) -> Path:
    """Three classes (cats, dogs, panda) of 12 small random PNG images each."""
    return make_image_folder({"cats": 12, "dogs": 12, "panda": 12})


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    """A fresh, empty decode-cache folder."""
    folder = tmp_path / "cache"
    folder.mkdir()
    return folder


@pytest.fixture
def tiny() -> TinyRun:
    """The session's tiny trained run (:func:`tests.support.tiny_run.tiny_run`, trained once)."""
    from tests.support.tiny_run import tiny_run

    return tiny_run()
