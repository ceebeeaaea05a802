"""Pilot fixtures: apps on temporary run folders, no cursor blink, waits on workers not time."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.app import WorkbenchApp


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every UI test from a temporary folder: what the app or the commands it starts write
    to their default places (``exports/``, ``runs/``) never lands in the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def runs_root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    root.mkdir()
    return root


@pytest.fixture
def make_app(runs_root: Path, tmp_path: Path, tiny_images: Path):  # type: ignore[no-untyped-def]
    """A WorkbenchApp on a temporary runs folder and cache, and the tiny data set (the demo set
    takes seconds to draw); keyword arguments override."""

    def make(**kwargs: object) -> WorkbenchApp:
        options: dict[str, object] = {
            "data": str(tiny_images),
            "runs_root": runs_root,
            "cache_dir": str(tmp_path / "cache"),
        }
        options.update(kwargs)
        return WorkbenchApp(**options)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def tiny_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 classes of 14 small generated PNGs each, and one file that is not an image."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("tiny") / "animals"
    rng = np.random.default_rng(0)
    for label, name in enumerate(("cat", "dog", "panda")):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(14):
            pixels = rng.integers(0, 60, size=(40, 40, 3), dtype=np.uint8)
            pixels[..., label] += 150  # a class-coloured tint: learnable in a few steps
            Image.fromarray(pixels).save(folder / f"{name}_{i:03d}.png")
    (root / "cat" / "notes.txt").write_text("not an image")
    return root
