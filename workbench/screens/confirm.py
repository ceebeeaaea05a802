"""A yes/no question over the current screen: before quitting with work in flight, before
stopping a run another process started, before starting training beside one that trains."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Static

from workbench import tui_launch


class ConfirmScreen(ModalScreen[bool]):
    """Ask a question; dismisses with True (y, the Yes button) or False (n, escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(id="confirm")
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button(f"{self.no} (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


def start_after_asking(
    screen: Screen[Any],
    starting: str,
    runs_root: Path,
    start: Callable[[], None],
    *,
    watched: tui_launch.RunState | None = None,
) -> None:
    """Call ``start`` now if nothing trains; else first ask whether ``starting`` (e.g. "A new
    run", "A sweep of 4 runs") may share the machine with the runs that do."""
    question = tui_launch.sharing_question(tui_launch.live_trainings(runs_root, watched), starting)
    if question is None:
        start()
        return

    def answered(yes: bool | None) -> None:
        if yes:
            start()

    screen.app.push_screen(ConfirmScreen(question, yes="Start", no="Cancel"), answered)
