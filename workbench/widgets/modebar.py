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
        self.watch(self.app, "slide_caption", self._changed, init=False)

    def _changed(self, _value: object) -> None:
        self.refresh()

    def render(self) -> Text:
        caption = str(getattr(self.app, "slide_caption", ""))
        if caption:  # presenting: the slide's caption instead of the tabs
            return Text(" " + caption, style="bold", no_wrap=True, overflow="ellipsis")
        current = getattr(self.screen, "id", None)
        parts = (
            str(getattr(self.app, "run_status", "")),
            str(getattr(self.app, "engine_status", "")),
        )
        status = " · ".join(part for part in parts if part)
        room = self.size.width - (len(status) + 1 if status else 0)
        for gap, titles in LAYOUTS:
            line = self._tabs(current, gap, titles)
            if line.cell_len <= room:
                break
        pad = self.size.width - line.cell_len - len(status) - 1
        if pad > 0:
            line.append(" " * pad)
            line.append(status + " ", style="italic")
        return line

    @staticmethod
    def _tabs(current: str | None, gap: str, titles: bool) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        for entry in SCREENS:
            style = "bold reverse" if entry.mode == current else ""
            line.append(f" {entry.key} ", style=style or "bold")
            if titles or entry.mode == current:
                line.append(f"{entry.title} ", style=style)
            line.append(gap)
        return line


LAYOUTS = ((" ", True), ("", True), ("", False))
"""The tabs from roomiest to tightest (the gap after each, every title or only the current
screen's): the first that leaves room for the status is drawn, so all keys fit at 80 columns."""
