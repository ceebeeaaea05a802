"""The ``?`` help: what the current screen is for, and every key it answers to."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown

from workbench.screens import SCREENS

GLOBAL_KEYS = [
    *((entry.key, f"{entry.title} screen") for entry in SCREENS),
    ("?", "this help"),
    ("ctrl+p", "command palette (every screen and command by name)"),
    ("escape", "leave a text field, so that number keys switch screens again"),
    ("q", "quit (a running training keeps running; reopen to attach)"),
    ("space / backspace", "next / previous slide while presenting (`workbench present`, Present)"),
]


class HelpScreen(ModalScreen[None]):
    """Help for one screen, over it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close"),
    ]
    AUTO_FOCUS = "#help-body"

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__(id="help")
        self.for_screen = screen

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(help_markdown(self.for_screen))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


def help_markdown(screen: Screen[object]) -> str:
    """The help text of ``screen``: its HELP, its keys, then the keys of every screen."""
    title = screen.title or type(screen).__name__
    lines = [f"# {title}", "", str(getattr(screen, "HELP", "")).strip(), "", "## Keys here", ""]
    seen = set()
    for binding in screen_bindings(screen):
        if binding.description and binding.key not in seen:
            seen.add(binding.key)
            lines.append(f"- `{screen.app.get_key_display(binding)}` {binding.description}")
    lines += ["", "## Everywhere", ""]
    lines += [f"- `{key}` {what}" for key, what in GLOBAL_KEYS]
    return "\n".join(lines)


def screen_bindings(screen: Screen[object]) -> list[Binding]:
    """The screen's own key bindings, its class's first, then those it inherits (read from the
    public ``BINDINGS`` of each class, so a key bound twice shows its nearest meaning)."""
    found: list[Binding] = []
    for cls in type(screen).__mro__:
        declared = cls.__dict__.get("BINDINGS")
        if declared:
            found.extend(Binding.make_bindings(declared))
    return found
