"""The Train screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from workbench.screens.base import WorkbenchScreen


class TrainScreen(WorkbenchScreen):
    HELP = "Train"

    def __init__(self) -> None:
        super().__init__(id="train")
        self.title = "Train"

    def compose_body(self) -> ComposeResult:
        yield Static("Train")
