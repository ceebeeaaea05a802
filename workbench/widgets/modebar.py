"""The line on top of every screen: the screens by number key, and the app's status."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from workbench.screens import SCREENS


class ModeBar(Widget):
    """`` 1 Data  2 Train  3 Runs`` with the current screen highlighted; status on the right."""

    DEFAULT_CSS = """
    ModeBar { dock: top; height: 1; background: $panel; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "engine_status", self._changed, init=False)
        self.watch(self.app, "run_status", self._changed, init=False)

    def _changed(self, _value: object) -> None:
        self.refresh()

    def render(self) -> Text:
        current = getattr(self.screen, "id", None)
        line = Text(no_wrap=True, overflow="ellipsis")
        for entry in SCREENS:
            style = "bold reverse" if entry.mode == current else ""
            line.append(f" {entry.key} ", style=style or "bold")
            line.append(f"{entry.title} ", style=style)
            line.append(" ")
        parts = (
            str(getattr(self.app, "run_status", "")),
            str(getattr(self.app, "engine_status", "")),
        )
        status = " · ".join(part for part in parts if part)
        pad = self.size.width - line.cell_len - len(status) - 1
        if pad > 0:
            line.append(" " * pad)
            line.append(status + " ", style="italic")
        return line
