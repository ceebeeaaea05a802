"""The engine is a headless core: importing it must not load textual or any UI module."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import workbench.engine

UI_PREFIXES = (
    "textual",
    "textual_image",
    "textual_plotext",
    "workbench.app",
    "workbench.screens",
    "workbench.widgets",
)


def _engine_modules() -> list[str]:
    """Every module of the engine, sub-packages (``engine/export/``) included."""
    found = pkgutil.walk_packages(workbench.engine.__path__, prefix="workbench.engine.")
    return sorted(info.name for info in found)


def test_the_walk_reaches_the_export_package() -> None:
    assert "workbench.engine.export.notebook" in _engine_modules()


def test_engine_modules_load_no_ui_code() -> None:
    modules = ["workbench.engine", "workbench.api", *_engine_modules()]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({UI_PREFIXES!r}))\n"
        "print('\\n'.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"engine imported UI modules:\n{result.stdout}"


def _packages_loaded_by(modules: str, among: set[str]) -> set[str]:
    """Which of the top-level packages ``among`` a fresh interpreter has loaded after
    ``import <modules>``."""
    code = (
        f"import sys, {modules}\n"
        f"print(' '.join({{m.split('.')[0] for m in sys.modules}} & {among!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_package_import_is_light() -> None:
    """`import workbench` (used by --help) must not pay for torch or textual."""
    modules = "workbench, workbench.config, workbench.__main__"
    assert _packages_loaded_by(modules, {"torch", "textual"}) == set()


def test_reading_runs_and_sweeps_needs_no_training_stack() -> None:
    """The Runs screen lists run and sweep folders at start-up, before torch has loaded."""
    modules = "workbench.engine.runs, workbench.engine.sweep, workbench.engine.events"
    assert _packages_loaded_by(modules, {"torch", "sklearn"}) == set()


def test_the_public_api_is_light() -> None:
    """`from workbench import api` in a notebook's first cell pays for neither torch nor
    Textual until a function needs them."""
    assert _packages_loaded_by("workbench.api", {"torch", "textual", "matplotlib"}) == set()
