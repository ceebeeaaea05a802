"""The registry of the workbench's screens: one entry per screen, in the order of their keys.

Adding a screen is one new file in this package (a :class:`~workbench.screens.base.WorkbenchScreen`
subclass) plus one :class:`ScreenEntry` below. The app turns every entry into a mode, a number
key, a command-palette command and a tab of the mode bar. Screens are imported lazily, on first
use, so the app's first frame pays for none of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen


@dataclass(frozen=True)
class ScreenEntry:
    """One screen of the workbench."""

    key: str
    """The key that switches to it (a digit)."""
    mode: str
    """The Textual mode name (also the screen's id)."""
    title: str
    """Shown in the mode bar and the command palette."""
    description: str
    """One line for the command palette."""
    target: str
    """``module:Class`` of the screen, imported on first use."""

    def factory(self) -> Screen:
        """Import the screen's module and build the screen."""
        module_name, _, class_name = self.target.partition(":")
        screen_class = getattr(importlib.import_module(module_name), class_name)
        screen: Screen = screen_class()
        return screen


SCREENS: tuple[ScreenEntry, ...] = (
    ScreenEntry(
        "1", "data", "Data", "Data set: scan, split, image grid, augmentations",
        "workbench.screens.data:DataScreen",
    ),
    ScreenEntry(
        "2", "train", "Train", "Train a model: the form, start/stop/resume, live curves",
        "workbench.screens.train:TrainScreen",
    ),
    ScreenEntry(
        "3", "runs", "Runs", "Every run: table, overlay of validation curves",
        "workbench.screens.runs:RunsScreen",
    ),
    ScreenEntry(
        "4", "evaluate", "Evaluate", "Test a checkpoint: metrics, confusion, images, Grad-CAM",
        "workbench.screens.evaluate:EvaluateScreen",
    ),
    ScreenEntry(
        "5", "autograd", "Autograd", "Q1: step through autograd's graph, hand vs PyTorch",
        "workbench.screens.autograd:AutogradScreen",
    ),
    ScreenEntry(
        "6", "backprop", "Backprop", "Q2: the delta rule step by step, where the update vanishes",
        "workbench.screens.backprop:BackpropScreen",
    ),
    ScreenEntry(
        "7", "export", "Export", "Write the assignment's artefacts, as workbench --export",
        "workbench.screens.export:ExportScreen",
    ),
    ScreenEntry(
        "8", "demo", "Demo", "The class demo: a run's model on any image, bars and Grad-CAM",
        "workbench.screens.demo:DemoScreen",
    ),
)  # fmt: skip
"""The screens, in key order. Issue 7 appends Evaluate, Autograd, Backprop and Export here."""


def entry_for(mode: str) -> ScreenEntry:
    """The registry entry of a mode."""
    for entry in SCREENS:
        if entry.mode == mode:
            return entry
    raise KeyError(mode)
