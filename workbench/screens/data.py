"""The Data screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from workbench.screens.base import WorkbenchScreen


class DataScreen(WorkbenchScreen):
    HELP = "Data"

    def __init__(self) -> None:
        super().__init__(id="data")
        self.title = "Data"

    def compose_body(self) -> ComposeResult:
        yield Static("Data")
