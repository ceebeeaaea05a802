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
    return sorted(
        f"workbench.engine.{info.name}" for info in pkgutil.iter_modules(workbench.engine.__path__)
    )


def test_engine_modules_load_no_ui_code() -> None:
    modules = ["workbench.engine", *_engine_modules()]
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


def test_package_import_is_light() -> None:
    """`import workbench` (used by --help) must not pay for torch or textual."""
    code = (
        "import sys, workbench, workbench.config, workbench.__main__\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'textual')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_reading_runs_and_sweeps_needs_no_training_stack() -> None:
    """The Runs screen lists run and sweep folders at start-up, before torch has loaded."""
    code = (
        "import sys, workbench.engine.runs, workbench.engine.sweep, workbench.engine.events\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sklearn'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
