"""The Runs screen: every run under the runs folder, and an overlay of their validation curves.

The table is read by the engine's run-directory reader (:func:`workbench.engine.runs.list_runs`)
in a thread worker, again every few seconds, so runs that are going or have just finished show
up on their own. Space marks runs; the marked runs' validation accuracy and loss are overlaid.
Enter opens a run on the Train screen (its full curves, or its live view if it is going).
**w** starts a sweep (``workbench sweep`` in its own process); its runs appear as they go.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from workbench import tui_launch
from workbench.engine.timefmt import duration_text
from workbench.errors import RunFileError, user_message
from workbench.screens.base import WorkbenchScreen
from workbench.screens.confirm import start_after_asking
from workbench.widgets.plots import MetricPlot

if TYPE_CHECKING:
    from workbench.screens.sweep_form import SweepRequest

REFRESH_SECONDS = 3.0
COLUMNS = (
    "",
    "run",
    "status",
    "best val",
    "@",
    "epochs",
    "time",
    "data",
    "size",
    "lr",
    "loss",
    "aug",
    "model",
    "procs",
)
"""Results first: at 80 columns the hyper-parameters are what scrolls out of sight."""


@dataclass(frozen=True)
class RunRow:
    """One run as the table shows it, plus its validation curves."""

    path: Path
    cells: tuple[str, ...]
    epochs: tuple[int, ...]
    val_accuracy: tuple[float, ...]
    val_loss: tuple[float, ...]


def read_run_rows(root: Path) -> list[RunRow]:
    """Every run under ``root``, newest first (the engine's run reader, which needs no torch:
    the table fills at start-up, before the engine has loaded)."""
    from workbench.engine.run_query import find_runs

    # a sweep's runs sit in its folder (runs/sweep-<id>/<run>/) and are listed with it
    found = [(entry.name, entry.run) for entry in find_runs(root)]
    rows = []
    for name, run in found:
        try:
            document: dict[str, Any] = run.config_document()
            config = run.config()
            model, processes = config.model.label(), config.train.world_size
            status = run.status()
            val = run.metrics("val")
            train = run.metrics("train")
        except RunFileError as error:  # that run's problem: listed as such, the others show
            where = (
                error.path.relative_to(run.path)
                if error.path.is_relative_to(run.path)
                else error.path
            )
            cells = ("", name, f"unreadable: {where}: {error.problem}", *("",) * (len(COLUMNS) - 3))
            rows.append(RunRow(run.path, cells, (), (), ()))
            continue
        data, tr = document.get("data", {}), document.get("train", {})
        best = max(val, key=lambda r: (r.accuracy, -r.loss), default=None)
        seconds = sum(r.seconds for r in train) + sum(r.seconds for r in val)
        state = status.effective_state if status else "starting"
        total = status.epochs if status and status.epochs else tr.get("epochs", "?")
        done = f"{len(val)}/{total}"
        cells = (
            "",
            name,
            state,
            f"{best.accuracy:.3f}" if best else "–",
            str(best.epoch) if best else "–",
            done,
            duration_text(seconds),
            Path(data.get("data") or "demo").name,
            str(data.get("image_size", "")),
            f"{tr.get('lr', 0):g}",
            str(tr.get("loss", "")),
            str(data.get("augment", "")),
            model,
            str(processes),
        )
        rows.append(
            RunRow(
                run.path,
                cells,
                tuple(r.epoch for r in val),
                tuple(r.accuracy for r in val),
                tuple(r.loss for r in val),
            )
        )
    return rows


class RunsScreen(WorkbenchScreen):
    """Table of runs on top, overlay of the marked runs' validation curves below."""

    HELP = """
Every run under the runs folder (`runs/` where you started the workbench): its state, best
validation accuracy and its epoch, training time, data, key hyper-parameters and network. The
table re-reads the folder every few seconds, so a run going in the background shows its
progress.

Mark runs with **space** to overlay their validation accuracy and loss below, to compare
hyper-parameters. **Enter** opens the run under the cursor on the Train screen (full curves,
or the live view if it is still going). Sweeps are started with `workbench sweep` on the
command line or with **w** here (values per hyper-parameter, comma separated; the runs
train one after the other in their own process and appear here as they go).
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Mark"),
        Binding("enter", "open_run", "Open"),
        Binding("c", "clear_marks", "Clear marks"),
        Binding("g", "refresh", "Reload"),
        Binding("w", "sweep", "Sweep"),
    ]

    @dataclass
    class RowsLoaded(Message):
        rows: list[RunRow]

    AUTO_FOCUS = "#runs-table"

    def __init__(self) -> None:
        super().__init__(id="runs")
        self.title = "Runs"
        self.rows: dict[str, RunRow] = {}
        self.marked: set[str] = set()
        self.loaded = False
        self.sweep_process: subprocess.Popen[bytes] | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="runs-body"):
            yield Static("reading runs…", id="runs-note")
            table: DataTable[str] = DataTable(
                id="runs-table", cursor_type="row", zebra_stripes=True
            )
            yield table
            with Horizontal(id="runs-plots"):
                yield MetricPlot("validation accuracy (marked runs)", id="overlay-accuracy")
                yield MetricPlot("validation loss (marked runs)", id="overlay-loss")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:  # the mark column has a width of its own: its label is empty
            table.add_column(column, key=column or "mark", width=None if column else 1)
        self.set_interval(REFRESH_SECONDS, self.action_refresh)
        self.action_refresh()

    def action_refresh(self) -> None:
        if self.sweep_process is not None and self.sweep_process.poll() is not None:
            self.sweep_process = None  # reaped
        self.load_rows(self.wb.runs_root)

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False, name="reading runs")
    def load_rows(self, root: Path) -> None:
        self.post_message(self.RowsLoaded(read_run_rows(root)))

    def on_runs_screen_rows_loaded(self, message: RowsLoaded) -> None:
        table = self.query_one(DataTable)
        new = {str(row.path): row for row in message.rows}
        if self.loaded and [r.cells for r in new.values()] == [r.cells for r in self.rows.values()]:
            self.rows = new
            return
        self.loaded = True
        cursor_key = self._cursor_key()
        self.rows = new
        self.marked &= set(new)
        table.clear()
        for key, row in new.items():
            cells = ("✓" if key in self.marked else "", *row.cells[1:])
            table.add_row(*cells, key=key)
        if cursor_key in new:
            table.move_cursor(row=table.get_row_index(cursor_key))
        note = (
            f"{len(new)} run(s) in {self.wb.runs_root}"
            if new
            else (f"no runs in {self.wb.runs_root} yet: start one on the Train screen (2)")
        )
        self.query_one("#runs-note", Static).update(note + " · space marks, enter opens")
        self.draw_overlay()

    def _cursor_key(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(row_key.value)

    def action_toggle_mark(self) -> None:
        key = self._cursor_key()
        if key is None:
            return
        self.marked ^= {key}
        self.query_one(DataTable).update_cell(key, "mark", "✓" if key in self.marked else "")
        self.draw_overlay()

    def action_clear_marks(self) -> None:
        table = self.query_one(DataTable)
        for key in self.marked:
            table.update_cell(key, "mark", "")
        self.marked.clear()
        self.draw_overlay()

    def draw_overlay(self) -> None:
        marked = [self.rows[k] for k in self.rows if k in self.marked]
        with self.app.batch_update():
            self.query_one("#overlay-accuracy", MetricPlot).set_series(
                [(row.path.name, row.epochs, row.val_accuracy) for row in marked]
            )
            self.query_one("#overlay-loss", MetricPlot).set_series(
                [(row.path.name, row.epochs, row.val_loss) for row in marked]
            )

    def action_sweep(self) -> None:
        from workbench.screens.sweep_form import SweepFormScreen

        if not self.wb.engine_ready:
            self.notify("The engine is still loading; try again in a moment.", severity="warning")
            return
        self.app.push_screen(SweepFormScreen(), self.start_sweep)

    def start_sweep(self, request: SweepRequest | None) -> None:
        """Start the sweep the form asked for; while runs train, ask first (they would share
        the machine)."""
        if request is None:
            return
        start_after_asking(
            self,
            f"A sweep of {request.runs} runs",
            self.wb.runs_root,
            lambda: self._launch_sweep(request),
        )

    def _launch_sweep(self, request: SweepRequest) -> None:
        root = self.wb.runs_root
        argv = tui_launch.sweep_argv(
            request.grid, data=self.wb.data_path, cache_dir=self.wb.cache_dir, runs_root=root,
            epochs=request.epochs, image_size=request.image_size, parallel=request.parallel,
        )  # fmt: skip
        log = root / ".tui-logs" / f"sweep-{time.strftime('%Y%m%d-%H%M%S')}.log"
        try:
            self.sweep_process = tui_launch.start_training(
                argv, root, log_path=log, what="the sweep"
            )
        except OSError as error:
            self.notify(f"Could not start the sweep: {user_message(error)}", severity="error")
            return
        self.notify(
            f"Sweep of {request.runs} runs started (pid {self.sweep_process.pid}); "
            f"they train {_pace(request.parallel)} and appear here. Output: {log}",
            timeout=10,
        )

    def exit_note(self) -> str | None:
        process = self.sweep_process
        if process is not None and process.poll() is None:
            return (
                f"The sweep keeps training in the background (pid {process.pid}); "
                f"`kill -INT {process.pid}` stops it, the same command continues it."
            )
        return None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()

    def action_open_run(self) -> None:
        key = self._cursor_key()
        if key is None:
            return
        self.app.switch_mode("train")
        screen = self.app.screen
        attach = getattr(screen, "attach", None)
        if attach is not None:
            attach(Path(key))


def _pace(parallel: int) -> str:
    return "one after the other" if parallel == 1 else f"{parallel} at a time"
