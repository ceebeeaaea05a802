"""WorkbenchApp: the shell of the TUI — modes from the screen registry, global keys, workers.

Kept small on purpose: every screen lives in ``workbench/screens/<name>.py`` and is listed once in
``workbench.screens.SCREENS``. This module imports neither torch nor the engine; the engine is
preloaded in a thread worker after the first frame, and ``engine_ready`` flips when it is in.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from workbench.presentation import BACK_KEYS, NEXT_KEYS, Presentation
from workbench.screens import SCREENS, entry_for

if TYPE_CHECKING:
    from workbench.screens.base import WorkbenchScreen

LAUNCH_POLL_SECONDS = 1.0
"""How often the app looks whether a process it started has exited with an error."""
QUIT_PAINT_SECONDS = 0.1
"""How long quitting waits for its "quitting…" note to be painted before the app exits."""
ENGINE_MODULES = (
    "torch",
    "workbench.engine.data",
    "workbench.engine.model",
    "workbench.engine.runs",
    "workbench.engine.sweep",
)
"""What the preload imports (torch alone costs 1-2 s); screens that need them wait for it."""


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker now, while sys.stderr is the real one.

    The engine decodes on a spawn process pool, whose first use starts the tracker and hands it
    ``sys.stderr.fileno()``; inside a running Textual app that is a capture object answering -1,
    and the pool fails with "bad value(s) in fds_to_keep". Idempotent; about 20 ms, not waited on.
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


@dataclass(frozen=True)
class DataCheck:
    """What the last load of a data path on the Data screen found. The Train screen starts a
    run only on a path whose load succeeded, so that a path that failed never becomes a run."""

    path: str | None
    """The data path that was loaded (None: the built-in demo set)."""
    classes: tuple[str, ...] = ()
    """Its class names (empty when the load failed)."""
    problem: str | None = None
    """Why it cannot be used, in the engine's words, for showing; None: it loaded."""

    @property
    def usable(self) -> bool:
        return self.problem is None


class WorkbenchApp(App[None]):
    """The workbench: Data, Train, Runs, … screens over one data set and one runs folder."""

    CSS_PATH = "app.tcss"
    TITLE = "workbench"
    AUTO_FOCUS = ""  # no field takes the keys until asked, so number keys switch screens
    MODES: ClassVar = {entry.mode: entry.factory for entry in SCREENS}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "request_quit", "Quit"),
        Binding("ctrl+q", "request_quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        *(Binding(e.key, f"goto('{e.mode}')", e.title, show=False) for e in SCREENS),
        Binding(NEXT_KEYS, "slide(1)", "Next slide", show=False, priority=True),
        Binding(BACK_KEYS, "slide(-1)", "Previous slide", show=False, priority=True),
    ]

    engine_ready: var[bool] = var(False)
    """True once torch and the engine are imported (screens watch it)."""
    engine_status: var[str] = var("loading engine…")
    """Shown in the mode bar."""
    run_status: var[str] = var("")
    """The watched training run in a few words (set by the Train screen), for the mode bar."""
    data_path: var[str | None] = var(None)
    """The data set (folder or zip) of the session; None: the built-in demo set."""
    data_check: var[DataCheck | None] = var(None)
    """The outcome of the Data screen's last load (None until one finished)."""
    slide_caption: var[str] = var("")
    """While presenting, the slide's caption, which the mode bar shows instead of the tabs."""

    @dataclass
    class EngineLoaded(Message):
        """The engine preload finished (``error`` is None on success)."""

        seconds: float
        error: str | None

    def __init__(
        self,
        *,
        data: str | None = None,
        cache_dir: str | None = None,
        runs_root: str | Path = "runs",
        start_mode: str = "data",
        preload: bool = True,
        presentation: Presentation | None = None,
    ) -> None:
        super().__init__()
        self.set_reactive(WorkbenchApp.data_path, data)
        self.cache_dir = cache_dir
        self.runs_root = Path(runs_root)
        self.start_mode = start_mode
        self.presentation = presentation
        """The slides being presented (``workbench present``, the palette's Present), or None."""
        self.opened_screens: list[WorkbenchScreen] = []
        """The base screen of every mode opened so far, in the order they were opened."""
        self.preload = preload
        self.started_at = time.perf_counter()
        self.engine_seconds: float | None = None
        start_resource_tracker()

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names of the session's data set (empty until its load succeeded)."""
        check = self.data_check_now()
        return check.classes if check is not None else ()

    def data_check_now(self) -> DataCheck | None:
        """The outcome of loading the session's current data path (None: not loaded yet)."""
        check = self.data_check
        return check if check is not None and check.path == self.data_path else None

    def on_mount(self) -> None:
        if self.presentation is not None:
            self.action_slide(0)
        else:
            self.switch_mode(self.start_mode)
        self.set_interval(LAUNCH_POLL_SECONDS, self.check_launched)
        if self.preload:
            # After the first frame: the import holds the GIL for long stretches, and started
            # here it would delay that frame by about a second.
            self.call_after_refresh(self.preload_engine)

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def preload_engine(self) -> None:
        """Import torch and the engine in the background, then say so."""
        start = time.perf_counter()
        error = None
        for name in ENGINE_MODULES:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:  # a module that is there failed to import one it needs
                    error = f"{name}: {exc}"
            except Exception as exc:
                error = f"{name}: {exc}"
        self.post_message(self.EngineLoaded(time.perf_counter() - start, error))

    def on_workbench_app_engine_loaded(self, message: EngineLoaded) -> None:
        self.engine_seconds = time.perf_counter() - self.started_at
        if message.error:
            self.engine_status = "engine failed"
            self.notify(message.error, title="The engine did not load", severity="error")
        else:
            self.engine_status = ""
            self.engine_ready = True

    def check_launched(self) -> None:
        """Say when a process started from the TUI (a training run, a sweep) exits with an
        error, with the error its log ends on: otherwise it would only be in the log."""
        from workbench.tui_launch import failed_launches

        for failed in failed_launches():
            error = failed.error or f"exit status {failed.returncode}, no output"
            self.notify(
                f"{failed.what.capitalize()} exited with an error: {error}\n"
                f"(full output: {failed.log_path})",
                title="A background process failed",
                severity="error",
                timeout=20,
            )

    def report_worker_error(self, worker: Worker[object]) -> None:
        """A worker failed: say what, in plain words, without stopping anything else."""
        from workbench.errors import user_message

        error = worker.error
        text = user_message(error) if error is not None else "no reason given"
        self.notify(text, title=f"{worker.name or 'background work'} failed", severity="error")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.report_worker_error(event.worker)

    def mode_screens(self) -> list[WorkbenchScreen]:
        """The base screen of every mode opened so far (each registers itself on mount)."""
        return list(self.opened_screens)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for entry in SCREENS:
            yield SystemCommand(
                f"{entry.key} {entry.title}", entry.description, lambda m=entry.mode: self.goto(m)
            )
        yield SystemCommand("Help", "Help for this screen (?)", self.action_help)
        if self.presentation is None:
            yield SystemCommand(
                "Present", "The assignment as slides (space next, backspace back)", self.present
            )
        else:
            yield SystemCommand("End the presentation", "Back to the tabs", self.end_presentation)
        yield from super().get_system_commands(screen)

    def present(self) -> None:
        """Start the presentation on the newest finished run, at its first slide."""
        self.presentation = Presentation.for_runs(self.runs_root)
        self.action_slide(0)

    def end_presentation(self) -> None:
        self.presentation = None
        self.slide_caption = ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The slide keys work only while presenting, and never while a field is typed in
        (a path in the Demo screen's field needs space and backspace)."""
        if action == "slide":
            return self.presentation is not None and not isinstance(self.focused, Input)
        return True

    def action_slide(self, delta: int) -> None:
        presentation = self.presentation
        if presentation is None:
            return
        presentation.step(delta)
        self.slide_caption = presentation.caption()
        self.run_worker(presentation.show(self), group="present", exclusive=True, name="slide")

    def goto(self, mode: str) -> None:
        if mode != self.current_mode:
            self.switch_mode(mode)

    def action_goto(self, mode: str) -> None:
        entry_for(mode)  # an unknown mode is a bug: fail loudly
        self.goto(mode)

    def action_help(self) -> None:
        from workbench.screens.help import HelpScreen

        if self.screen.id != "help":
            self.push_screen(HelpScreen(self.screen))

    def quit_now(self, message: str | None) -> None:
        """Say "quitting…" at once, then exit once it is on screen: tearing down the screens,
        the workers and torch takes a second or two, which would otherwise be a frozen frame."""
        self.notify("quitting…", timeout=30)
        self.set_timer(QUIT_PAINT_SECONDS, lambda: self.exit(message=message))

    def action_request_quit(self) -> None:
        """Quit; ask first only if that would abandon work (a training run is not abandoned)."""
        from workbench.screens.confirm import ConfirmScreen

        screens = self.mode_screens()
        notes = [note for s in screens if (note := getattr(s, "exit_note", lambda: None)())]
        busy = [why for s in screens if (why := getattr(s, "busy_reason", lambda: None)())]
        message = "\n".join(notes) or None
        if not busy:
            self.quit_now(message)
            return
        question = "\n".join([*busy, *notes, "", "Quit anyway?"])

        def answered(yes: bool | None) -> None:
            if yes:
                self.quit_now(message)

        self.push_screen(ConfirmScreen(question, yes="Quit", no="Stay"), answered)
