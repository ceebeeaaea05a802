"""Progress from thread workers: time-throttled, and the newest message replaces a queued one.

A worker passes a :class:`Throttle` to the engine as its ``ProgressFn``; the throttle posts at
most one :class:`ProgressUpdate` per interval (and always the last step of a task), and a queued
update that has not been handled yet is replaced by a newer one (``can_replace``), so a busy
screen never works through a backlog. :class:`ProgressLine` shows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, ProgressBar


@dataclass
class ProgressUpdate(Message):
    """``task``: ``done`` of ``total`` (total 0: unknown)."""

    task: str
    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ProgressUpdate)


class Throttle:
    """An engine ``ProgressFn`` that posts :class:`ProgressUpdate` at most every ``interval``."""

    def __init__(self, post: Callable[[Message], object], interval: float = 0.1) -> None:
        self.post = post
        self.interval = interval
        self._last = 0.0
        self._task = ""

    def __call__(self, task: str, done: int, total: int) -> None:
        now = time.monotonic()
        if task != self._task or done >= total or now - self._last >= self.interval:
            self._last, self._task = now, task
            self.post(ProgressUpdate(task, done, total))


class ProgressLine(Horizontal):
    """One line: what is going on, and a bar."""

    DEFAULT_CSS = """
    ProgressLine { height: 1; }
    ProgressLine > Label { width: 1fr; max-width: 50; padding: 0 1; }
    ProgressLine > ProgressBar { width: auto; }
    ProgressLine.-no-bar > Label { max-width: 100%; }
    ProgressLine.-failed { height: auto; max-height: 4; }
    ProgressLine.-failed > Label { max-width: 100%; color: $error; }
    """

    def compose(self) -> ComposeResult:
        yield Label("", id="progress-label")
        yield ProgressBar(total=None, show_eta=False, id="progress-bar")

    def show(self, text: str, done: int | None = None, total: int | None = None) -> None:
        """What is going on (one line), with a bar when ``done`` is given."""
        self.remove_class("-failed")
        self.set_class(done is None, "-no-bar")  # without a bar the text has the whole line
        self.query_one("#progress-label", Label).update(text)
        bar = self.query_one("#progress-bar", ProgressBar)
        bar.display = done is not None
        if done is not None:
            bar.update(total=total or None, progress=done)

    def fail(self, text: str) -> None:
        """Why the work failed: in the error colour and whole, wrapped over up to four lines
        (a status line cut at 80 columns would lose the path or the advice at its end)."""
        self.show(text)
        self.add_class("-failed")


class Line(Widget):
    """One line of text that changes often: repainting it never reflows the screen (a Static's
    ``update`` asks for a new layout each time)."""

    DEFAULT_CSS = """
    Line { height: 1; width: 1fr; }
    """

    text: reactive[str] = reactive("", layout=False)

    def render(self) -> Text:
        return Text(self.text, no_wrap=True, overflow="ellipsis")
