"""The one progress protocol between long engine work and whoever shows it.

Long-running engine functions take ``progress: ProgressFn | None`` and call it as
``progress(task, done, total)``; the CLI maps it onto a rich progress bar on stderr and the TUI
onto a throttled message. ``total`` may change between calls (a new task starts at 0).
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[str, int, int], None]


def report(progress: ProgressFn | None, task: str, done: int, total: int) -> None:
    """Call ``progress`` if there is one; keeps call sites free of ``if progress`` noise."""
    if progress is not None:
        progress(task, done, total)
