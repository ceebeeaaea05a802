"""Pilot fixtures: apps on temporary run folders, no cursor blink, waits on workers not time."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.app import WorkbenchApp


@pytest.fixture
def runs_root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    root.mkdir()
    return root


@pytest.fixture
def make_app(runs_root: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Build a WorkbenchApp on a temporary runs folder and cache (keyword overrides allowed)."""

    def make(**kwargs: object) -> WorkbenchApp:
        options: dict[str, object] = {
            "runs_root": runs_root,
            "cache_dir": str(tmp_path / "cache"),
        }
        options.update(kwargs)
        return WorkbenchApp(**options)  # type: ignore[arg-type]

    return make
