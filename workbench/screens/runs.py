"""The Runs screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from workbench.screens.base import WorkbenchScreen


class RunsScreen(WorkbenchScreen):
    HELP = "Runs"

    def __init__(self) -> None:
        super().__init__(id="runs")
        self.title = "Runs"

    def compose_body(self) -> ComposeResult:
        yield Static("Runs")
