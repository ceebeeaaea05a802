"""The Evaluate screen (Q3 g, h, i, j): a run's checkpoint on the untouched test split.

Pick a run (or type a checkpoint path): :func:`workbench.engine.evaluate.evaluate_source` loads it
on the fly in a thread worker (progress shown) and returns an ``Evaluation``; this screen only
lays it out: the test metrics and per-class table, the confusion matrix as a coloured grid, the
first 10 test images of each class, random test images per true class with their softmax bars
(re-drawn with a key), and the misclassified images worst first with Grad-CAM for the true and
the predicted class (maps beyond the engine's precomputed worst few are computed on demand).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, HorizontalScroll, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, TabbedContent, TabPane

from workbench.errors import user_message
from workbench.render.evaluation import (
    confused_pairs,
    confusion_table,
    metrics_table,
    probability_bars,
)
from workbench.screens.base import PANE_SCROLL_BINDINGS, PICTURES_HELP, WorkbenchScreen
from workbench.widgets.evaluation_view import ScoredThumb, cam_overlay
from workbench.widgets.run_picker import RunPicker
from workbench.widgets.status import ProgressLine, ProgressUpdate, Throttle

if TYPE_CHECKING:
    import numpy as np

    from workbench.engine.evaluate import Evaluation

FIRST_PER_CLASS = 10
RANDOM_PER_CLASS = 6
TABS = {"m": "ev-tab-metrics", "f": "ev-tab-first", "p": "ev-tab-random", "w": "ev-tab-wrong"}


class EvaluateScreen(WorkbenchScreen):
    """Source picker and progress on top; metrics, image grids and the gallery in tabs."""

    HELP = f"""
Test a trained model on the untouched test split (Q3 g–j). Pick a run with **o** (its
`best.pt`; `last.pt` if there is no best yet) or type a checkpoint file or run folder in the
path field and press Enter: the checkpoint is loaded on the fly (`weights_only=True`) and the
test images are predicted in the background.

Tabs (**m**, **f**, **p**, **w**): **m**etrics — accuracy, loss, per-class precision/recall/F1
and the confusion matrix (count and row % per cell, green on the diagonal, red off it);
**f**irst 10 test images of each class with true and predicted labels; **p**robabilities —
random test images arranged by true class with their softmax scores as bars (green: predicted
and right, red: predicted and wrong), **n** draws again; **w**rong — the misclassified images,
worst (highest loss) first, with Grad-CAM for the true and for the predicted class: where the
model found evidence for each. **←/→** step through them.
{PICTURES_HELP}"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "pick_run", "Pick run"),
        Binding("g", "reload", "Reload runs", show=False),
        Binding("m", "tab('m')", "Metrics"),
        Binding("f", "tab('f')", "First 10"),
        Binding("p", "tab('p')", "Probs"),
        Binding("w", "tab('w')", "Wrong"),
        Binding("n", "redraw", "Redraw"),
        Binding("right", "wrong_step(1)", "Next wrong", show=False),
        Binding("left", "wrong_step(-1)", "Previous wrong", show=False),
        *(replace(binding, show=False) for binding in PANE_SCROLL_BINDINGS),  # footer is full
    ]

    @dataclass
    class Evaluated(Message):
        source: str
        evaluation: Evaluation

    @dataclass
    class Failed(Message):
        source: str
        error: str

    @dataclass
    class CamsReady(Message):
        position: int
        cam_true: np.ndarray
        cam_predicted: np.ndarray

    def __init__(self) -> None:
        super().__init__(id="evaluate")
        self.title = "Evaluate"
        self.evaluation: Evaluation | None = None
        self.source: str | None = None
        self.busy = False
        self.seed = 0
        self.wrong_index = 0
        self.cams: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="ev-source"):
            yield Label("run")
            yield RunPicker(prompt="pick a run (o)", id="ev-run")
            yield Input(placeholder="or a checkpoint or run path", id="ev-path")
        yield ProgressLine(id="ev-progress")
        yield Static("no evaluation yet: pick a run (o)", id="ev-summary")
        with TabbedContent(id="ev-tabs", initial="ev-tab-metrics"):
            with TabPane("Metrics", id="ev-tab-metrics"), VerticalScroll(id="ev-metrics-body"):
                with Horizontal(id="ev-metrics-row"):
                    yield Static("", id="ev-metrics", classes="ev-metrics-part")
                    yield Static("", id="ev-confusion", classes="ev-metrics-part")
                yield Static("", id="ev-pairs")
            with TabPane("First 10", id="ev-tab-first"):
                yield VerticalScroll(id="ev-first")
            with TabPane("Probabilities", id="ev-tab-random"):
                yield VerticalScroll(id="ev-random")
            with TabPane("Wrong (Grad-CAM)", id="ev-tab-wrong"), VerticalScroll(id="ev-wrong"):
                yield Static("", id="ev-wrong-title", classes="ev-label")
                yield Horizontal(id="ev-wrong-images")
                yield Static("", id="ev-wrong-detail")

    def on_mount(self) -> None:
        self.query_one(ProgressLine).show("")
        self.watch(self.app, "engine_ready", self._engine_ready)

    def _engine_ready(self, ready: bool) -> None:
        if ready:
            self.action_reload()

    # ------------------------------------------------------------------ picking

    def action_reload(self) -> None:
        self.query_one(RunPicker).reload(self.wb.runs_root)

    def on_run_picker_listed(self, message: RunPicker.Listed) -> None:
        if self.source is not None:
            self.query_one(RunPicker).show(self.source)
        if not message.runs and self.evaluation is None:
            self.query_one("#ev-summary", Static).update(
                f"no run with a checkpoint under {self.wb.runs_root}: train one on the Train "
                "screen (2), or type a checkpoint path above"
            )

    def action_pick_run(self) -> None:
        self.query_one(RunPicker).open()

    @on(Select.Changed, "#ev-run")
    def run_picked(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.set_focus(None)
            self.open_source(event.value)

    @on(Input.Submitted, "#ev-path")
    def path_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.set_focus(None)
            self.open_source(event.value.strip())

    # ------------------------------------------------------------------ evaluating

    def action_open(self, source: str) -> None:
        """Evaluate ``source`` unless it is the one shown or being evaluated (a presentation's
        slide)."""
        if source != self.source:
            self.open_source(source)

    def open_source(self, source: str) -> None:
        """Evaluate a run folder or checkpoint file in the background."""
        self.source = source
        self.busy = True
        self.query_one(RunPicker).show(source)
        self.query_one(ProgressLine).show(f"loading {Path(source).name}…", 0, 0)
        self.run_evaluation(source, self.wb.cache_dir)

    @work(thread=True, exclusive=True, group="evaluate", exit_on_error=False, name="evaluating")
    def run_evaluation(self, source: str, cache_dir: str | None) -> None:
        from workbench.engine.device import resolve_device
        from workbench.engine.evaluate import evaluate_source
        from workbench.errors import UsageError

        try:
            evaluation = evaluate_source(
                source,
                cache_dir=cache_dir,
                device=resolve_device("auto"),
                progress=Throttle(self.post_message),
            )
        except UsageError as error:
            self.post_message(self.Failed(source, user_message(error)))
            return
        self.post_message(self.Evaluated(source, evaluation))

    def on_progress_update(self, message: ProgressUpdate) -> None:
        if self.busy:
            self.query_one(ProgressLine).show(message.task, message.done, message.total)

    def on_evaluate_screen_failed(self, message: Failed) -> None:
        if message.source != self.source:
            return
        self.busy = False
        self.query_one(ProgressLine).fail(f"Cannot evaluate: {message.error}")
        self.notify(message.error, title="Evaluate", severity="error", timeout=10)

    async def on_evaluate_screen_evaluated(self, message: Evaluated) -> None:
        if message.source != self.source:
            return  # a source picked before the current one finished late: not shown
        self.busy = False
        evaluation = self.evaluation = message.evaluation
        report = evaluation.report
        self.cams = {
            e.prediction.position: (e.cam_true, e.cam_predicted) for e in evaluation.explanations
        }
        self.wrong_index = 0
        self.query_one(ProgressLine).show(
            f"{report.count} test images predicted with {Path(report.checkpoint).name} "
            f"(epoch {report.checkpoint_epoch})"
        )
        summary = Text.assemble(
            (f"{report.run_id}", "bold"),
            f" · {report.data} · test accuracy ",
            (f"{report.accuracy:.4f}", "bold green"),
            f" · macro F1 {report.f1:.3f} · {len(evaluation.misclassified)} misclassified",
        )
        if not report.fingerprint_matches:
            summary.append(
                "\n⚠ the split fingerprint differs from the one the model was trained on: these "
                "test images may include training images",
                style="bold yellow",
            )
        self.query_one("#ev-summary", Static).update(summary)
        self.query_one("#ev-metrics", Static).update(metrics_table(report))
        self.query_one("#ev-confusion", Static).update(confusion_table(report))
        self.query_one("#ev-pairs", Static).update(confused_pairs(report))
        await self.draw_first()
        await self.draw_random()
        await self.draw_wrong()

    # ------------------------------------------------------------------ grids

    async def draw_first(self) -> None:
        from workbench.widgets.images import Thumb

        evaluation = self.evaluation
        assert evaluation is not None
        holder = self.query_one("#ev-first", VerticalScroll)
        await holder.remove_children()
        rows: list[Widget] = []
        for label, positions in evaluation.first_per_class(FIRST_PER_CLASS).items():
            name = evaluation.classes[label]
            right = sum(1 for p in positions if evaluation.predictions[p] == label)
            rows.append(
                Static(
                    f"{name}: first {len(positions)} test images, {right} right", classes="ev-label"
                )
            )
            thumbs = []
            for position in positions:
                predicted = int(evaluation.predictions[position])
                mark = "✓" if predicted == label else "✗"
                file_name = evaluation.paths[position].rsplit("/", 1)[-1]
                caption = f"{mark} pred {evaluation.classes[predicted]}\n{file_name}"
                thumbs.append(Thumb(evaluation.images[position], caption))
            rows.append(Container(*thumbs, classes="ev-row ev-first-row"))
        await holder.mount_all(rows)

    async def draw_random(self) -> None:
        evaluation = self.evaluation
        assert evaluation is not None
        holder = self.query_one("#ev-random", VerticalScroll)
        await holder.remove_children()
        rows: list[Widget] = [
            Static(
                f"random test images by true class, softmax scores below (seed {self.seed}; "
                "n draws again)",
                classes="ev-label",
            )
        ]
        for label, positions in evaluation.random_per_class(RANDOM_PER_CLASS, self.seed).items():
            rows.append(Static(f"true: {evaluation.classes[label]}", classes="ev-label"))
            thumbs = []
            for position in positions:
                prediction = evaluation.prediction(position)
                bars = probability_bars(prediction.probabilities, evaluation.classes, label, 18)
                thumbs.append(ScoredThumb(evaluation.images[position], prediction.file_name, bars))
            rows.append(HorizontalScroll(*thumbs, classes="ev-row"))
        await holder.mount_all(rows)

    def action_redraw(self) -> None:
        if self.evaluation is None:
            return
        self.seed += 1
        self.query_one(TabbedContent).active = TABS["p"]
        self.run_worker(self.draw_random(), group="evaluate-draw", exclusive=True)

    # ------------------------------------------------------------------ misclassified

    async def draw_wrong(self) -> None:
        evaluation = self.evaluation
        assert evaluation is not None
        images = self.query_one("#ev-wrong-images", Horizontal)
        await images.remove_children()
        title = self.query_one("#ev-wrong-title", Static)
        detail = self.query_one("#ev-wrong-detail", Static)
        wrong = evaluation.misclassified
        if not wrong:
            title.update("no misclassified test image")
            detail.update("")
            return
        index = self.wrong_index = max(0, min(self.wrong_index, len(wrong) - 1))
        prediction = wrong[index]
        true_name = evaluation.classes[prediction.true]
        predicted_name = evaluation.classes[prediction.predicted]
        title.update(
            f"misclassified {index + 1}/{len(wrong)} (worst first; ←/→ step) · "
            f"{prediction.file_name}"
        )
        image = evaluation.images[prediction.position]
        thumbs = [ScoredThumb(image, prediction.path, classes="ev-big")]
        cams = self.cams.get(prediction.position)
        if cams is not None:
            thumbs.append(
                ScoredThumb(
                    cam_overlay(image, cams[0]),
                    f"Grad-CAM for the true class {true_name}",
                    classes="ev-big",
                )
            )
            thumbs.append(
                ScoredThumb(
                    cam_overlay(image, cams[1]),
                    f"Grad-CAM for the predicted class {predicted_name}",
                    classes="ev-big",
                )
            )
        else:
            self.compute_cams(prediction.position, prediction.true, prediction.predicted)
        await images.mount_all(thumbs)
        detail.update(
            Group(
                Text.assemble(
                    ("true ", "dim"),
                    (true_name, "bold"),
                    ("  predicted ", "dim"),
                    (predicted_name, "bold red"),
                    ("  loss −log p(true) ", "dim"),
                    f"{prediction.loss:.3f}",
                    ("  p(true) ", "dim"),
                    f"{prediction.probabilities[prediction.true]:.3f}",
                ),
                probability_bars(prediction.probabilities, evaluation.classes, prediction.true, 40),
                Text(
                    "Grad-CAM: red where the last convolution block found evidence for that "
                    "class; compare what the model looked at for its (wrong) answer with what "
                    "would have supported the right one."
                    if cams is not None
                    else "computing Grad-CAM…",
                    style="dim",
                ),
            )
        )

    @work(thread=True, exclusive=True, group="evaluate-cam", exit_on_error=False, name="Grad-CAM")
    def compute_cams(self, position: int, true: int, predicted: int) -> None:
        evaluation = self.evaluation
        if evaluation is None:
            return
        cam_true = evaluation.explain(position, true)
        cam_predicted = evaluation.explain(position, predicted)
        self.post_message(self.CamsReady(position, cam_true, cam_predicted))

    async def on_evaluate_screen_cams_ready(self, message: CamsReady) -> None:
        self.cams[message.position] = (message.cam_true, message.cam_predicted)
        evaluation = self.evaluation
        if (
            evaluation is not None
            and evaluation.misclassified
            and evaluation.misclassified[self.wrong_index].position == message.position
        ):
            await self.draw_wrong()

    def action_wrong_step(self, delta: int) -> None:
        evaluation = self.evaluation
        if evaluation is None or not evaluation.misclassified:
            return
        if self.query_one(TabbedContent).active != TABS["w"]:
            return
        index = max(0, min(len(evaluation.misclassified) - 1, self.wrong_index + delta))
        if index != self.wrong_index:
            self.wrong_index = index
            self.run_worker(self.draw_wrong(), group="evaluate-draw", exclusive=True)

    def action_tab(self, key: str) -> None:
        self.query_one(TabbedContent).active = TABS[key]
