"""The Train screen: the run form, start/stop/resume, and the live view of a run directory.

The screen never trains: Start launches ``workbench train …`` in its own session
(:mod:`workbench.tui_launch`), and everything shown comes from the run directory, polled every
half second (only the new bytes of ``events.jsonl``). Opening it while a run is going attaches
to that run; a finished run shows its full curves.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, ProgressBar, RichLog, Select, Static

from workbench import tui_launch
from workbench.app import DataCheck
from workbench.config import (
    Form,
    ModelConfig,
    OfferedField,
    RunConfig,
    offered_fields,
    with_values,
)
from workbench.engine.runs import EVENTS, run_is_live
from workbench.engine.timefmt import duration_text
from workbench.errors import ConfigError, RunFileError, UsageError, user_message
from workbench.screens.base import WorkbenchScreen
from workbench.screens.confirm import ConfirmScreen, start_after_asking
from workbench.widgets.plots import MetricPlot
from workbench.widgets.status import Line

POLL_SECONDS = 0.5
BATCH_PLOT_SECONDS = 2.0

ON_OFF = ("on", "off")
"""A yes/no field's choices: Select treats ``False`` as its blank, so booleans go as words."""


def form_fields() -> list[OfferedField]:
    """The form's fields in their order: the option table's fields that have a place on it."""
    return sorted(
        (f for f in offered_fields() if f.option.form is not None), key=lambda f: _place(f).order
    )


def _place(offered: OfferedField) -> Form:
    assert offered.option.form is not None, offered.name
    return offered.option.form


def label_of(offered: OfferedField) -> str:
    return _place(offered).label or offered.name


def is_select(offered: OfferedField) -> bool:
    """Chosen from a list (choices, or on/off) rather than typed."""
    return offered.option.choices is not None or offered.annotation == "bool"


def model_fields() -> set[str]:
    """The form fields the model summary depends on (with the image size)."""
    return {f.name for f in form_fields() if f.section == "model"}


def form_errors(
    values: dict[str, Any],
    data: str | None,
    cache_dir: str | None,
    base: RunConfig | None = None,
) -> tuple[RunConfig | None, dict[str, str]]:
    """Parse and check the form: the RunConfig (``base``, the defaults if None, with the form's
    values and the session's data), or the message of every invalid field."""
    parsed, errors = parse_fields(values, base)
    if errors:
        return None, errors
    config = _config(parsed, data, cache_dir, base)
    try:
        config.validate()
    except ConfigError as error:
        names = {f.name for f in form_fields()}
        return None, {error.field if error.field in names else "epochs": error.message}
    return config, {}


def parse_fields(
    values: dict[str, Any], base: RunConfig | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every field parsed and checked on its own (substituted into ``base``, the defaults if
    None), so that all bad fields are marked at once: the good values, and the message of each
    bad one."""
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for offered in form_fields():
        raw = values.get(offered.name)
        try:  # a Select's value is the choice itself; on/off and typed text are parsed
            chosen = offered.option.choices is not None
            value = raw if chosen else offered.parse(str(raw))
            _config({offered.name: value}, None, None, base).validate()
        except ValueError as error:
            errors[offered.name] = str(error)
            continue
        except ConfigError as error:
            errors[offered.name] = error.message
            continue
        parsed[offered.name] = value
    return parsed, errors


def _config(
    values: dict[str, Any], data: str | None, cache_dir: str | None, base: RunConfig | None = None
) -> RunConfig:
    return with_values(base, {**values, "data": data, "cache_dir": cache_dir})


def form_value(offered: OfferedField, config: RunConfig) -> Any:
    """What the field's widget holds for ``config``'s value: a choice itself, else its text."""
    value = getattr(getattr(config, offered.section), offered.name)
    return value if offered.option.choices is not None else offered.text(value)


def viewed_config(run_dir: Path) -> RunConfig | None:
    """The config of a run being viewed, read and checked by the engine's reader; None while it
    has none to read (a run still starting) or a damaged one (its view says what is wrong)."""
    from workbench.engine.runs import Run

    try:
        return Run(run_dir).config()
    except RunFileError:
        return None


def data_refusal(check: DataCheck | None) -> str | None:
    """Why a run cannot start on the session's data set (its load on the Data screen failed),
    or None. Not loaded yet is no reason: the training process checks the data itself."""
    if check is None or check.usable:
        return None
    shown = check.path or "the built-in demo set"
    return (
        f"The data set {shown} could not be loaded: {check.problem}\n"
        "Fix the path on the Data screen (1) and press Enter there, then s again."
    )


class TrainScreen(WorkbenchScreen):
    """Form on the left, live view of the watched run on the right."""

    HELP = """
Fill in the form (Tab moves between fields, Escape leaves a field so that keys act again) and
press **s** to start: the screen runs `workbench train …` as its own process, in a new session,
so the run keeps going if you quit the workbench or your SSH connection drops. **x** asks it to
stop (SIGINT: it finishes the batch and saves `last.pt`); **r** resumes a stopped run.

Everything on the right comes from the run directory (`events.jsonl`, `status.json`): loss,
accuracy, precision and recall per epoch for train and validation, the loss batch by batch,
progress, images per second, ETA and the event log. Opening the workbench while a run is going
attaches to it; pick any run on the Runs screen (**3**, Enter) to see its curves here.
The form then holds the viewed run's config ("New run from <id>"): change a field and press
**s** for a new run with those values (the viewed run itself is never touched).
On a small terminal **f** hides the form to give the plots room, and **p** turns the page of
plots (two at a time).
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Start"),
        Binding("x", "stop", "Stop"),
        Binding("r", "resume", "Resume"),
        Binding("f", "toggle_form", "Form"),
        Binding("p", "plot_page", "Plots"),
    ]

    @dataclass
    class SummaryReady(Message):
        text: str

    def __init__(self) -> None:
        super().__init__(id="train")
        self.title = "Train"
        self.fields = form_fields()
        self.names = [f.name for f in self.fields]
        self.tail: tui_launch.RunTail | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.errors: dict[str, str] = {}
        self.config: RunConfig | None = None
        self.base: RunConfig | None = None
        """The viewed run's config: the form starts from it, and s makes a new run of it
        with the form's values (None: the defaults)."""
        self.base_id = ""
        """The id of the run ``base`` is from."""
        self._drawn_events = -1
        self._plotted_epochs = -1
        self._batch_drawn_at = 0.0
        self._plots_stale = False
        self._header = ""
        self._drawn_state = ""

    # ---- layout -------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        with Horizontal(id="train-body"):
            with VerticalScroll(id="train-form"):
                yield Static("Run", id="form-title", classes="title")
                for offered in self.fields:
                    name = offered.name
                    with Horizontal(classes="field"):
                        yield Label(label_of(offered), classes="field-label")
                        if is_select(offered):
                            listed = offered.option.choices is not None
                            yield Select(
                                [(str(c), c) for c in offered.option.choices or ON_OFF],
                                value=offered.default if listed else offered.text(offered.default),
                                allow_blank=False,
                                id=f"f-{name}",
                            )
                        else:
                            yield Input(offered.text(offered.default), id=f"f-{name}", compact=True)
                    yield Static("", id=f"e-{name}", classes="field-error")
                yield Static("", id="form-status")
                yield Static("s start · x stop · r resume", classes="muted")
                yield Static("Model", classes="title")
                yield Static("loading engine…", id="model-summary")
            with Vertical(id="train-live"):
                yield Static("no run yet: fill in the form and press s", id="run-header")
                with Grid(id="plots", classes="page-0"):
                    yield MetricPlot("loss", id="plot-loss", classes="page-0")
                    yield MetricPlot("accuracy", id="plot-accuracy", classes="page-0")
                    yield MetricPlot("precision", id="plot-precision", classes="page-1")
                    yield MetricPlot("recall", id="plot-recall", classes="page-1")
                    yield MetricPlot("batch loss (train)", id="plot-batch", classes="page-2")
                with Horizontal(classes="bars"):
                    yield Label("epoch", classes="bar-label")
                    yield ProgressBar(total=1, show_eta=False, id="bar-epoch")
                    yield Label("batch", classes="bar-label")
                    yield ProgressBar(total=1, show_eta=False, id="bar-batch")
                yield Line(id="run-stats")
                yield RichLog(id="run-log", max_lines=1000, wrap=True, min_width=20, markup=False)

    def on_mount(self) -> None:
        self.query_one("#train-form").can_focus = False  # Tab goes straight to the fields
        self.set_interval(POLL_SECONDS, self.poll_run)
        if self.tail is None:  # attach at once (Stop works before the engine is in)
            found = find_run_to_attach(self.wb.runs_root)
            if found is not None:
                self.attach(found)
        self.show_base()  # the attached run's config (attach fills the form only once mounted)
        self.validate_form()
        self.watch(self.app, "engine_ready", self._engine_ready)
        self.watch(self.app, "data_check", self._data_checked, init=False)

    def _data_checked(self, _check: DataCheck | None) -> None:
        self.validate_form()  # its status line says when the data set cannot be used
        self._engine_ready(self.wb.engine_ready)

    def _engine_ready(self, ready: bool) -> None:
        if not ready:
            return
        self.refresh_summary()
        self.poll_run()

    # ---- form ---------------------------------------------------------------------------
    def form_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.names:
            widget = self.query_one(f"#f-{name}")
            values[name] = widget.value if isinstance(widget, (Input, Select)) else None
        return values

    def show_base(self) -> None:
        """Fill the form with the viewed run's config and say that s makes a new run of it."""
        if self.base is None:
            return
        for offered in self.fields:
            widget = self.query_one(f"#f-{offered.name}")
            if isinstance(widget, (Input, Select)):
                widget.value = form_value(offered, self.base)
        self.query_one("#form-title", Static).update(f"New run from\n{self.base_id}")
        self.validate_form()
        self.refresh_summary()

    def validate_form(self) -> RunConfig | None:
        """Mark invalid fields inline; the valid config or None."""
        config, errors = form_errors(
            self.form_values(), self.wb.data_path, self.wb.cache_dir, self.base
        )
        self.errors, self.config = errors, config
        for name in self.names:
            self.query_one(f"#f-{name}").set_class(name in errors, "-invalid")
            self.query_one(f"#e-{name}", Static).update(errors.get(name, ""))
            self.query_one(f"#e-{name}").display = name in errors
        status = self.query_one("#form-status", Static)
        unusable = data_refusal(self.wb.data_check_now()) is not None
        note = "the data set did not load: fix it on the Data screen (1)" if unusable else ""
        status.update(f"fix {len(errors)} field(s) to start" if errors else note)
        return config

    def on_input_changed(self, event: Input.Changed) -> None:
        self.validate_form()
        if event.input.id in {f"f-{name}" for name in model_fields()}:
            self.refresh_summary()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.validate_form()
        if event.select.id in {f"f-{name}" for name in model_fields() | {"image_size"}}:
            self.refresh_summary()

    def refresh_summary(self) -> None:
        if not self.wb.engine_ready:
            return
        shaping = model_fields() | {"image_size"}
        if shaping & set(self.errors):
            self.query_one("#model-summary", Static).update("(fix the model fields)")
            return
        # The network as the form describes it, even while a field it does not depend on
        # (the learning rate, say) is being fixed.
        parsed, _ = parse_fields(self.form_values(), self.base)
        shaped = {k: v for k, v in parsed.items() if k in shaping}
        config = _config(shaped, None, None, self.base)
        classes = len(self.wb.class_names) or 3
        self.build_summary(config.model, config.data.image_size, classes)

    @work(thread=True, exclusive=True, group="summary", exit_on_error=False, name="model summary")
    def build_summary(self, model: ModelConfig, image_size: int, num_classes: int) -> None:
        from workbench.engine.model import build_model, summarize

        summary = summarize(build_model(model, num_classes), image_size)
        lines = [
            f"{summary.total_params / 1e6:.2f} M parameters, "
            f"{summary.mult_adds / 1e6:.0f} M mult-adds/image",
            f"input 3×{image_size}×{image_size}, {num_classes} classes",
        ]
        if model.stem:  # its conv, BN and ReLU come first; the ReLU's output is the stem's
            stem = next(layer for layer in summary.layers if layer.kind == "ReLU")
            lines.append(f"stem    → {'×'.join(map(str, stem.output_shape))}")
        stage = 0
        for layer in summary.layers:
            shape = "×".join(str(d) for d in layer.output_shape)
            if layer.kind == "MaxPool2d":
                stage += 1
                lines.append(f"stage {stage} → {shape}")
            elif layer.kind == "Linear":
                lines.append(f"head    → {shape} logits (softmax)")
        self.post_message(self.SummaryReady("\n".join(lines)))

    def on_train_screen_summary_ready(self, message: SummaryReady) -> None:
        self.query_one("#model-summary", Static).update(message.text)

    # ---- actions ------------------------------------------------------------------------
    def action_start(self) -> None:
        config = self.validate_form()
        if config is None:
            labels = {f.name: label_of(f) for f in self.fields}
            reasons = "; ".join(f"{labels.get(k, k)}: {v}" for k, v in self.errors.items())
            self.notify(f"Not started. {reasons}", title="Check the form", severity="error")
            return
        refusal = data_refusal(self.wb.data_check_now())
        if refusal is not None:
            self.notify(refusal, title="Not started", severity="error", timeout=15)
            return
        if not self.wb.engine_ready:
            self.notify("The engine is still loading; try again in a moment.", severity="warning")
            return
        root, watched = self.wb.runs_root, self.watched
        start_after_asking(self, "A new run", root, lambda: self.start_new(config), watched=watched)

    def start_new(self, config: RunConfig) -> None:
        """Create the new run's folder with its config, and launch it."""
        try:
            run_dir, argv = tui_launch.new_run(self.wb.runs_root, config)
        except (OSError, UsageError) as error:
            self.notify(f"Cannot create the run directory: {user_message(error)}", severity="error")
            return
        self.launch(argv, run_dir, config)

    @property
    def watched(self) -> tui_launch.RunState | None:
        """The state of the run shown on the right (None: none)."""
        return self.tail.state if self.tail is not None else None

    def action_stop(self) -> None:
        """Stop the watched run if it trains, else any run that does: at once if this screen
        started it, after a confirm if another process did."""
        found = tui_launch.live_trainings(self.wb.runs_root, self.watched)
        if not found:
            self.notify(tui_launch.NOTHING_TO_STOP, severity="warning")
            return
        target = found[0]
        process = self.process
        if process is not None and process.poll() is None and target.pid == process.pid:
            self.stop(target)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.stop(target)

        question = tui_launch.stop_question(target)
        self.app.push_screen(ConfirmScreen(question, yes="Stop", no="Keep"), answered)

    def stop(self, target: tui_launch.LiveTraining) -> None:
        """Ask ``target``'s process to stop (SIGINT)."""
        if target.pid and tui_launch.stop_training(target.pid):
            self.notify(f"Stop asked (SIGINT): {target.name} finishes its batch and saves last.pt.")
        else:
            self.notify("The training process is not there any more.", severity="warning")

    def action_resume(self) -> None:
        state = self.watched
        if state is None or state.state not in ("stopped", "lost", "failed"):
            self.notify(
                "Only a stopped run can be resumed; pick one on the Runs screen.",
                severity="warning",
            )
            return
        run_dir = state.run_dir
        start_after_asking(
            self,
            f"Resuming {run_dir.name}",
            self.wb.runs_root,
            lambda: self.launch(tui_launch.train_argv(run_dir), run_dir),
        )

    def action_plot_page(self) -> None:
        """On short terminals the plots show two at a time: turn the page."""
        plots = self.query_one("#plots")
        page = next((int(c[-1]) for c in plots.classes if c.startswith("page-")), 0)
        plots.set_classes(f"page-{(page + 1) % 3}")
        if not self.has_class("-short"):
            self.notify("All plots are shown at this terminal height.", timeout=3)

    def action_toggle_form(self) -> None:
        form = self.query_one("#train-form")
        form.display = not form.display

    def launch(self, argv: list[str], run_dir: Path, config: RunConfig | None = None) -> None:
        """Start ``argv`` training into ``run_dir`` (a new run of ``config``, or a resumed one)
        and watch it."""
        try:
            self.process = tui_launch.start_training(argv, run_dir)
        except OSError as error:
            self.notify(f"Could not start training: {user_message(error)}", severity="error")
            return
        self.attach(run_dir, pid=self.process.pid, config=config)
        self.notify(f"Training started in {run_dir} (pid {self.process.pid}).")
        if self.has_class("-narrow"):
            self.query_one("#train-form").display = False  # f brings it back

    # ---- live view ----------------------------------------------------------------------
    def attach(self, run_dir: Path, *, pid: int = 0, config: RunConfig | None = None) -> None:
        """Watch ``run_dir`` from now on (its whole history is read on the next poll), and show
        its config (``config``, else its config.json) in the form, for a new run from it."""
        self.tail = tui_launch.RunTail(run_dir, pid=pid)
        config = config or viewed_config(run_dir)
        if config is not None:
            self.base, self.base_id = config, run_dir.name
        self._drawn_events, self._drawn_state, self._plotted_epochs = -1, "", -1
        self._header = ""
        if self.is_mounted:
            self.show_base()
            self.query_one("#run-log", RichLog).clear()
            if not self.wb.engine_ready:
                self.query_one("#run-header", Static).update(
                    f"run {run_dir.name}: loading engine… (s, x and r already work)"
                )
            self.poll_run()

    def action_show_run(self, path: str) -> None:
        """Watch the run at ``path`` unless it is watched already (a presentation's slide)."""
        if self.tail is None or self.tail.run_dir != Path(path):
            self.attach(Path(path))

    def poll_run(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            self.process = None  # reaped: a finished child is not left as a zombie
        if self.tail is None or not self.wb.engine_ready:
            return
        new_lines = self.tail.poll()
        log = self.query_one("#run-log", RichLog)
        for line in new_lines:
            log.write(line)
        state = self.tail.state
        if (self.tail.events_seen, state.state) != (self._drawn_events, self._drawn_state):
            if state.state == "failed" and self._drawn_state not in ("", "failed"):
                self.notify(state.message, title="The run failed", severity="error", timeout=15)
            changed = state.state != self._drawn_state
            self._drawn_events, self._drawn_state = self.tail.events_seen, state.state
            self.draw(state, force=changed)

    def draw(self, s: tui_launch.RunState, *, force: bool = False) -> None:
        """Header, bars and stats at every change; the plots only when they have news (or
        ``force``), the batch-loss trace at most every few seconds, and nothing of the plots
        while another screen is shown: watching must cost the training next to nothing."""
        mark = {"running": "●", "finished": "✓", "failed": "✗", "stopped": "■", "lost": "?"}
        header = f"run {s.run_id} {mark.get(s.state, '…')} {s.state}"
        if s.epochs:
            header += f" · epoch {s.epoch}/{s.epochs}"
        if s.best_epoch:
            header += f" · best val acc {s.best_val_accuracy:.3f} @ {s.best_epoch}"
        self.wb.run_status = (
            f"{s.run_id} {mark.get(s.state, '…')} {s.epoch}/{s.epochs}" if s.active else ""
        )
        header += f"\n{s.message}" if s.message else ""
        if header != self._header:  # a Static's update reflows the screen: only on news
            self._header = header
            head = self.query_one("#run-header", Static)
            head.update(header)
            head.set_class(s.state == "failed", "error-text")
        epochs = s.epoch_numbers
        with self.app.batch_update():
            if self.app.screen is self:
                self.draw_plots(s, force=force)
            else:
                self._plots_stale = True
            done = len(epochs)
            # Never an indeterminate bar: its animation would redraw the screen 60 times a second.
            bar = self.query_one("#bar-epoch", ProgressBar)
            bar.update(total=max(s.epochs, 1), progress=done)
            batch_bar = self.query_one("#bar-batch", ProgressBar)
            batch_bar.update(total=max(s.batches, 1), progress=s.batch if s.active else s.batches)
            stats = [s.phase] if s.active and s.phase else []
            if s.images_per_second:
                stats.append(f"{s.images_per_second:.0f} img/s")
            if s.active and s.eta_seconds:
                stats.append(f"ETA {duration_text(s.eta_seconds)}")
            if s.device:
                stats.append(s.device)
            if s.memory:
                stats.append(s.memory)
            self.query_one("#run-stats", Line).text = "  ".join(stats)

    def draw_plots(self, s: tui_launch.RunState, *, force: bool = False) -> None:
        epochs = s.epoch_numbers
        if force or len(epochs) != self._plotted_epochs:
            self._plotted_epochs = len(epochs)
            for name in ("loss", "accuracy", "precision", "recall"):
                self.query_one(f"#plot-{name}", MetricPlot).set_series(
                    [("train", epochs, s.train.get(name, [])), ("val", epochs, s.val.get(name, []))]
                )
        now = time.monotonic()
        if force or now - self._batch_drawn_at >= BATCH_PLOT_SECONDS:
            self._batch_drawn_at = now
            xs = [x for x, _ in s.batch_loss]
            ys = [y for _, y in s.batch_loss]
            self.query_one("#plot-batch", MetricPlot).set_series([("train", xs, ys)])
        self._plots_stale = False

    def on_screen_resume(self) -> None:
        if self._plots_stale and self.tail is not None:
            self.draw_plots(self.tail.state, force=True)

    def exit_note(self) -> str | None:
        s = self.tail.state if self.tail else None
        if s is not None and s.active and s.pid and tui_launch.training_is_going(s):
            return (
                f"Run {s.run_id} keeps training in the background (pid {s.pid}); "
                f"run `workbench` again to watch it, or `kill -INT {s.pid}` to stop it."
            )
        return None


def find_run_to_attach(runs_root: Path) -> Path | None:
    """The run to show on opening: one still running, else the newest run."""
    try:
        candidates = [p for p in runs_root.iterdir() if p.is_dir()]
    except OSError:
        return None
    candidates.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for run_dir in candidates:
        if run_is_live(run_dir):
            return run_dir
    for run_dir in candidates:
        if (run_dir / EVENTS).exists():
            return run_dir
    return None
