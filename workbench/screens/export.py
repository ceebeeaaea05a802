"""The Export screen: pick artefacts and an output folder, write them with the engine.

Lists every artefact of :data:`workbench.engine.export.registry.ARTEFACTS` with its files and
whether it applies to the chosen run and the session's data (and why not). The chosen ones are
written by :func:`workbench.engine.export.registry.export_all` in a thread worker, from the same
:class:`~workbench.engine.export.registry.Sources` that ``workbench --export`` builds (the run's
own data config, the device picked automatically), so the files are the ones the command line
writes for the same choices. The screen itself never writes a file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from workbench.errors import user_message
from workbench.screens.base import WorkbenchScreen
from workbench.widgets.run_picker import RunPicker
from workbench.widgets.status import ProgressLine, ProgressUpdate, Throttle
from workbench.widgets.ticklist import TickList

if TYPE_CHECKING:
    from workbench.engine.export.registry import ExportResult, Sources

EXPORTS_ROOT = Path("exports")
"""Default output folder root, as ``workbench --export``: ``exports/<run-id>/``."""
NO_RUN = "__no_run__"


@dataclasses.dataclass(frozen=True)
class Choice:
    """One artefact as the list shows it."""

    name: str
    title: str
    files: tuple[str, ...]
    question: str
    reason: str | None
    """None: it can be written from the chosen sources; else why not."""


def build_sources(
    run_path: str | None, data: str | None, cache_dir: str | None, progress: Any = None
) -> Sources:
    """The sources ``workbench --export --run`` would use for this run or sweep folder (a sweep
    stands for its best run, a run inside a sweep brings the sweep's figures: the engine's one
    rule, :func:`~workbench.engine.sweep.export_target`): the run's own data set (the
    session's data set only without a run)."""
    from workbench.engine.export.registry import Sources
    from workbench.engine.runs import open_run
    from workbench.engine.sweep import export_target

    if run_path is None:
        return Sources.for_run(None, data=data, cache_dir=cache_dir, progress=progress)
    target = export_target(run_path)
    return Sources.for_run(
        open_run(target.run), cache_dir=cache_dir, sweep=target.sweep, progress=progress
    )


def list_choices(run_path: str | None, data: str | None, cache_dir: str | None) -> list[Choice]:
    """Every artefact with whether it applies to these sources (cheap: nothing is computed)."""
    from workbench.engine.export.registry import availability

    sources = build_sources(run_path, data, cache_dir)
    return [
        Choice(entry.name, entry.title, entry.files, entry.question, reason)
        for entry, reason in availability(sources)
    ]


class ExportScreen(WorkbenchScreen):
    """Run and output folder on top, the artefact list, progress, and the files written."""

    HELP = """
Write the assignment's artefacts (figures, tables, reports) into a folder, exactly as
`workbench --export --run RUN --out DIR` does. Pick the run with **o** (artefacts of Q3 need a
trained run; Q1/Q2 and the data grids need none); a sweep folder, listed as `sweep-<id> (sweep,
N runs)`, stands for its best run and brings the sweep's figures (`sweep_*`,
`loss_comparison`), as a run inside it does. Set the output folder (default
`exports/<run-id>/`), tick artefacts with **space** (**a** all that apply, **n** none) and press
**x** to export. Artefacts that do not apply say why. The evaluation of the run (test
predictions, Grad-CAM) is computed once for all artefacts that need it; progress is shown, then
every file written, with its path.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "pick_run", "Pick run"),
        Binding("a", "select_all", "All"),
        Binding("n", "select_none", "None"),
        Binding("x", "export", "Export"),
        Binding("d", "edit_out", "Folder"),
        Binding("g", "reload", "Reload runs", show=False),
    ]
    AUTO_FOCUS = "#ex-list"

    @dataclass
    class ChoicesReady(Message):
        run_path: str | None
        choices: list[Choice]

    @dataclass
    class Exported(Message):
        out: str
        result: ExportResult
        seconds: float

    @dataclass
    class Failed(Message):
        error: str

    def __init__(self) -> None:
        super().__init__(id="export")
        self.title = "Export"
        self.choices: list[Choice] = []
        self.run_path: str | None = None
        self.run_chosen = False
        self.busy = False
        self.last_result: ExportResult | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="ex-top"):
            with Horizontal(classes="ex-row"):
                yield Label("run")
                yield RunPicker(
                    fixed=[("no run: Q1, Q2 and data artefacts only", NO_RUN)],
                    sweeps=True,
                    id="ex-run",
                )
            with Horizontal(classes="ex-row"):
                yield Label("folder")
                yield Input(str(EXPORTS_ROOT / "q1-q2"), id="ex-out")
        yield ProgressLine(id="ex-progress")
        with Horizontal(id="ex-body"):
            yield TickList(id="ex-list")
            with VerticalScroll(id="ex-files-box"):
                yield Static("", id="ex-detail")
                yield Static("nothing exported yet: tick artefacts, then x", id="ex-files")

    def on_mount(self) -> None:
        self.query_one(ProgressLine).show("")
        self.watch(self.app, "engine_ready", self._engine_ready)

    def _engine_ready(self, ready: bool) -> None:
        if ready:
            self.action_reload()

    # ------------------------------------------------------------------ sources

    def action_reload(self) -> None:
        self.query_one(RunPicker).reload(self.wb.runs_root, self.wb.data_path)
        self.refresh_choices(self.run_path)

    def on_run_picker_listed(self, message: RunPicker.Listed) -> None:
        if not self.run_chosen and message.newest_finished is not None:
            # the run `workbench --export` picks: the newest finished one for the data
            message.picker.value = message.newest_finished  # posts Changed: the rest follows

    def action_pick_run(self) -> None:
        self.run_chosen = True  # the user picks: no more automatic choice
        self.query_one(RunPicker).open()

    @on(Select.Changed, "#ex-run")
    def run_picked(self, event: Select.Changed) -> None:
        event.stop()
        value = event.value if isinstance(event.value, str) and event.value != NO_RUN else None
        self.select_run(value)

    def select_run(self, run_path: str | None) -> None:
        """Use ``run_path`` (None: no run) and propose ``exports/<run-id>`` as the folder."""
        self.run_path = run_path
        name = Path(run_path).name if run_path else "q1-q2"
        self.query_one("#ex-out", Input).value = str(EXPORTS_ROOT / name)
        self.refresh_choices(run_path)

    def refresh_choices(self, run_path: str | None) -> None:
        self.list_choices_worker(run_path, self.wb.data_path, self.wb.cache_dir)

    @work(thread=True, exclusive=True, group="export-list", exit_on_error=False, name="artefacts")
    def list_choices_worker(
        self, run_path: str | None, data: str | None, cache_dir: str | None
    ) -> None:
        from workbench.errors import UsageError

        try:
            choices = list_choices(run_path, data, cache_dir)
        except UsageError as error:
            self.post_message(self.Failed(user_message(error)))
            return
        self.post_message(self.ChoicesReady(run_path, choices))

    def on_export_screen_choices_ready(self, message: ChoicesReady) -> None:
        if message.run_path != self.run_path:
            return
        self.choices = message.choices
        selection_list = self.query_one("#ex-list", SelectionList)
        selection_list.clear_options()
        for choice in message.choices:
            prompt = Text.assemble(
                (f"{choice.question:<8} ", "cyan"),
                (choice.name, "bold" if choice.reason is None else "dim"),
                (f"  ✗ {choice.reason}", "yellow") if choice.reason else "",
                (f"  {choice.title}", "" if choice.reason is None else "dim"),
            )
            initial = choice.reason is None  # a new run: everything that applies is ticked
            selection_list.add_option(
                Selection(
                    prompt, choice.name, initial, id=choice.name, disabled=choice.reason is not None
                )
            )

    @on(SelectionList.SelectionHighlighted, "#ex-list")
    def highlighted(self, event: SelectionList.SelectionHighlighted[str]) -> None:
        event.stop()
        choice = next((c for c in self.choices if c.name == event.selection.value), None)
        if choice is None:
            return
        text = Text.assemble(
            (choice.name, "bold"),
            f" ({choice.question}): {choice.title}\nwrites ",
            (", ".join(choice.files), "cyan"),
        )
        if choice.reason is not None:
            text.append(f"\nnot available: {choice.reason}", style="yellow")
        self.query_one("#ex-detail", Static).update(text)

    def selected(self) -> list[str]:
        """The ticked artefacts, in the registry's order."""
        ticked = set(self.query_one("#ex-list", SelectionList).selected)
        return [c.name for c in self.choices if c.name in ticked]

    def action_select_all(self) -> None:
        selection_list = self.query_one("#ex-list", SelectionList)
        for choice in self.choices:
            if choice.reason is None:
                selection_list.select(choice.name)

    def action_select_none(self) -> None:
        self.query_one("#ex-list", SelectionList).deselect_all()

    def action_edit_out(self) -> None:
        self.query_one("#ex-out", Input).focus()

    @on(Input.Submitted, "#ex-out")
    def out_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#ex-list", SelectionList).focus()

    # ------------------------------------------------------------------ exporting

    def action_export(self) -> None:
        if self.busy:
            self.notify("an export is already running", severity="warning")
            return
        names = self.selected()
        if not names:
            self.notify("tick at least one artefact (space; a: all)", severity="warning")
            return
        out = self.query_one("#ex-out", Input).value.strip()
        if not out:
            self.notify("give an output folder (d)", severity="warning")
            return
        self.busy = True
        self.query_one(ProgressLine).show(f"exporting {len(names)} artefact(s)…", 0, len(names))
        self.export(self.run_path, out, names, self.wb.data_path, self.wb.cache_dir)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False, name="exporting")
    def export(
        self,
        run_path: str | None,
        out: str,
        names: list[str],
        data: str | None,
        cache_dir: str | None,
    ) -> None:
        import time

        from workbench.engine.export.registry import export_all
        from workbench.errors import UsageError

        started = time.monotonic()
        progress = Throttle(self.post_message)
        try:
            sources = build_sources(run_path, data, cache_dir, progress)

            def step(entry: Any, done: int, total: int) -> None:
                progress(f"writing {entry.name}", done, total)

            result = export_all(sources, Path(out), names=names, on_artefact=step)
        except (UsageError, OSError) as error:
            self.post_message(self.Failed(user_message(error)))
            return
        self.post_message(self.Exported(out, result, time.monotonic() - started))

    def on_progress_update(self, message: ProgressUpdate) -> None:
        if self.busy:
            self.query_one(ProgressLine).show(message.task, message.done, message.total)

    def on_export_screen_failed(self, message: Failed) -> None:
        self.busy = False
        self.query_one(ProgressLine).fail(f"Export failed: {message.error}")
        self.notify(message.error, title="Export", severity="error", timeout=10)

    def on_export_screen_exported(self, message: Exported) -> None:
        self.busy = False
        result = self.last_result = message.result
        self.query_one(ProgressLine).show(
            f"{len(result.written)} file(s) written to {message.out} in {message.seconds:.1f} s"
        )
        text = Text()
        text.append(f"written to {message.out}:\n", style="bold")
        for path in result.written:
            text.append(f"  {path}\n")
        for name, reason in result.skipped:
            text.append(f"  skipped {name}: {reason}\n", style="yellow")
        self.query_one("#ex-files", Static).update(text)
        self.notify(f"{len(result.written)} file(s) in {message.out}", title="Export")

    def busy_reason(self) -> str | None:
        return "an export is being written" if self.busy else None
