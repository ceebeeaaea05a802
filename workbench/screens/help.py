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
    for binding in screen._bindings.key_to_bindings.values():
        for item in binding:
            if item.description and item.key not in seen:
                seen.add(item.key)
                lines.append(f"- `{_key(item.key)}` {item.description}")
    lines += ["", "## Everywhere", ""]
    lines += [f"- `{key}` {what}" for key, what in GLOBAL_KEYS]
    return "\n".join(lines)


def _key(key: str) -> str:
    return {"question_mark": "?", "space": "space", "enter": "enter"}.get(key, key)
