"""The run picker of the Evaluate and Export screens: a Select over the runs of a folder.

With ``sweeps`` (the Export screen) the sweep folders are offered too: exporting one is exporting
its best run with the sweep's figures (:func:`workbench.engine.sweep.export_target`).

It lists what the engine's one run query finds (runs with a checkpoint, sweep runs included,
newest first) in a thread, keeps the current choice across refreshes, and opens on the newest
run. A screen reacts to ``Select.Changed`` as for any Select, and to :class:`RunPicker.Listed`
(how many runs, and the run ``workbench --export`` would pick for the data).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.message import Message
from textual.widgets import OptionList, Select


class RunPicker(Select[str]):
    """Runs with a checkpoint under a folder; ``fixed`` options (e.g. "no run") come first."""

    @dataclass
    class Listed(Message):
        picker: RunPicker
        runs: int
        """How many runs are listed (``fixed`` options not counted)."""
        newest_finished: str | None
        """The newest finished run for the data given to :meth:`reload` (the export policy)."""

    def __init__(
        self,
        *,
        fixed: Sequence[tuple[str, str]] = (),
        prompt: str = "pick a run",
        sweeps: bool = False,
        id: str,
    ) -> None:
        self.fixed = list(fixed)
        self.sweeps = sweeps
        """Offer the sweep folders too (before the runs), as ``sweep-<id> (sweep, N runs)``."""
        if self.fixed:
            super().__init__(self.fixed, allow_blank=False, value=self.fixed[0][1], id=id)
        else:
            super().__init__([], prompt=prompt, allow_blank=True, id=id)

    def reload(self, root: Path, data: str | None = None) -> None:
        """List the runs under ``root`` again (in a thread); ``data`` is the session's data set
        (None: the demo set), for :attr:`Listed.newest_finished`."""
        self._list(root, data)

    @work(thread=True, exclusive=True, exit_on_error=False, name="runs")
    def _list(self, root: Path, data: str | None) -> None:
        from workbench.engine.run_query import find_runs, find_sweeps, newest_finished_run

        options = (
            [(sweep.label, str(sweep.path)) for sweep in find_sweeps(root)] if self.sweeps else []
        )
        options += [
            (entry.label, str(entry.run.path)) for entry in find_runs(root, checkpoint="any")
        ]
        wanted = str(Path(data).expanduser().resolve()) if data else None
        newest = newest_finished_run(root, wanted)
        self.app.call_from_thread(self._show, options, str(newest.path) if newest else None)

    def _show(self, runs: list[tuple[str, str]], newest: str | None) -> None:
        options = [*self.fixed, *runs]
        current = self.value
        with self.prevent(Select.Changed):
            self.set_options(options)
            if current in {value for _, value in options}:
                self.value = current
            elif self.fixed:
                self.value = self.fixed[0][1]
        self.post_message(self.Listed(self, len(runs), newest))

    def open(self) -> None:
        """Focus and show the list, on the newest run rather than the blank prompt."""
        self.focus()
        self.action_show_overlay()
        overlay = self.query_one(OptionList)  # the Select's drop-down list
        first_run = 1 if not self.fixed else len(self.fixed)
        if (self.is_blank() or self.value == (self.fixed[0][1] if self.fixed else None)) and (
            overlay.option_count > first_run
        ):
            overlay.highlighted = first_run

    def show(self, source: str) -> None:
        """Show ``source`` as the choice, without a ``Select.Changed`` (the screen opened it
        already: typed, from a slide, or the default); nothing if the list lacks it."""
        from textual.widgets.select import InvalidSelectValueError

        with self.prevent(Select.Changed), suppress(InvalidSelectValueError):
            self.value = source
