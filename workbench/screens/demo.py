"""The Demo screen: a trained run on any image, for the class demo.

Pick a run (its ``best.pt`` is loaded on the fly in a thread worker), then an image: a path typed
or pasted, a file browser over a folder, or ``n``/``p`` through the folder's images. The engine
(:mod:`workbench.engine.predict`) prepares it exactly as validation does and predicts it in a
thread worker; this screen shows the image as the model sees it, as large as the terminal allows,
its softmax bars and Grad-CAM for the predicted class or any class the presenter steps to.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from rich.console import Group
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DirectoryTree, Input, Label, Select, Static
from textual_image._terminal import get_cell_size

from workbench.render.evaluation import probability_bars
from workbench.screens.base import PICTURES_HELP, WorkbenchScreen
from workbench.widgets.evaluation_view import cam_overlay
from workbench.widgets.field import LabelledInput
from workbench.widgets.images import image_widget, to_pil
from workbench.widgets.run_picker import RunPicker

if TYPE_CHECKING:
    from collections.abc import Iterable

    from workbench.engine.evaluate import LoadedModel
    from workbench.engine.predict import ImagePrediction

BARS_WIDTH = 30
"""Columns of the softmax bars panel."""


class ImageTree(DirectoryTree):
    """A file browser that lists folders and the image files PIL can open."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        from workbench.engine.predict import image_suffixes

        return [
            p
            for p in paths
            if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in image_suffixes())
        ]


class DemoScreen(WorkbenchScreen):
    """Run and image on top; the picture, its Grad-CAM and its softmax bars below."""

    HELP = f"""
The class demo: a trained model on any image. Pick a run with **o** (its `best.pt` is loaded
with `weights_only=True`), then an image: **e** to type or paste a path (a file or a folder,
Enter), **b** to browse a folder (Enter on a file), **n**/**p** for the next and previous
image of the folder. The image is prepared exactly as the run's validation images were (size,
resize mode, normalisation) and shown as the model sees it, with its softmax scores. An image
unlike the training data still gets a class: the scores say how sure the model is, and when the
entropy is near its maximum it is flagged as low confidence.

**c** shows Grad-CAM (where the evidence for a class is; wide terminals show it beside the
image), **k** steps its class through the classes (it starts at the predicted one).
{PICTURES_HELP}"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "pick_run", "Run"),
        Binding("e", "edit_path", "Path"),
        Binding("b", "browse", "Browse"),
        Binding("n", "step(1)", "Next"),
        Binding("p", "step(-1)", "Prev"),
        Binding("c", "toggle_cam", "CAM"),
        Binding("k", "cam_class", "Class"),
    ]

    @dataclass
    class Loaded(Message):
        source: str
        loaded: LoadedModel

    @dataclass
    class Predicted(Message):
        file: Path
        prediction: ImagePrediction

    @dataclass
    class CamReady(Message):
        file: str
        class_index: int
        cam: np.ndarray

    @dataclass
    class Failed(Message):
        what: str
        error: str

    def __init__(self) -> None:
        super().__init__(id="demo")
        self.title = "Demo"
        self.source: str | None = None
        self.loaded: LoadedModel | None = None
        self.files: list[Path] = []
        """The images of the current folder, sorted (``n``/``p`` step through them)."""
        self.file: Path | None = None
        self.prediction: ImagePrediction | None = None
        self.cam_class: int | None = None
        self.cams: dict[int, np.ndarray] = {}
        """Grad-CAM maps of the current image by class."""
        self.model_lock = threading.Lock()
        """One worker at a time in the model: Grad-CAM's hook would catch another's forward."""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="demo-source"):
            yield Label("run")
            yield RunPicker(prompt="pick a run (o)", id="demo-run")
            yield LabelledInput("demo", "path", "image", "")
        yield Static("pick a run (o), then an image (e, b)", id="demo-status")
        with Horizontal(id="demo-body"):
            with Vertical(id="demo-picture", classes="demo-pane"):
                yield Static("", classes="demo-caption", id="demo-picture-caption")
            with Vertical(id="demo-cam", classes="demo-pane"):
                yield Static("", classes="demo-caption", id="demo-cam-caption")
            yield Static("", id="demo-bars")

    def on_mount(self) -> None:
        self.query_one("#demo-bars", Static).styles.width = BARS_WIDTH
        self.watch(self.app, "engine_ready", self._engine_ready)

    def _engine_ready(self, ready: bool) -> None:
        if ready:
            self.query_one(RunPicker).reload(self.wb.runs_root, self.wb.data_path)

    # ------------------------------------------------------------------ the run

    def on_run_picker_listed(self, message: RunPicker.Listed) -> None:
        if self.source is None and message.newest_finished is not None:
            self.action_open(message.newest_finished)
        elif self.source is not None:
            self.query_one(RunPicker).show(self.source)

    def action_pick_run(self) -> None:
        self.query_one(RunPicker).open()

    @on(Select.Changed, "#demo-run")
    def run_picked(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str):
            self.set_focus(None)
            self.action_open(event.value)

    def action_open(self, source: str) -> None:
        """Load a run (or checkpoint) unless it is the one loaded or loading."""
        if source == self.source:
            return
        self.source, self.loaded = source, None
        self.query_one(RunPicker).show(source)
        self.status(f"loading {Path(source).name}…")
        self.load_run(source)

    @work(thread=True, exclusive=True, group="demo-load", exit_on_error=False, name="loading")
    def load_run(self, source: str) -> None:
        from workbench.engine.device import resolve_device
        from workbench.engine.evaluate import load_model
        from workbench.errors import UsageError

        try:
            loaded = load_model(source, device=resolve_device("auto"))
        except UsageError as error:
            self.post_message(self.Failed(source, str(error)))
            return
        self.post_message(self.Loaded(source, loaded))

    def on_demo_screen_loaded(self, message: Loaded) -> None:
        if message.source != self.source:
            return
        self.loaded = message.loaded
        self.status(f"{message.loaded.name} loaded: now an image (e type a path, b browse)")
        if self.file is not None:
            self.show_file(self.file)

    def on_demo_screen_failed(self, message: Failed) -> None:
        if message.what == self.source:
            self.source = None  # picking it again tries again
        self.status(f"cannot use {message.what}: {message.error}", error=True)

    # ------------------------------------------------------------------ the image

    def action_edit_path(self) -> None:
        self.query_one("#demo-path", Input).focus()

    async def action_browse(self) -> None:
        """Show or hide the file browser, made on first use (its loader worker runs for as long
        as it lives) over the current image's folder, else the run's data, else here."""
        if not self.query(ImageTree):
            await self.query_one("#demo-body").mount(
                ImageTree(self.browse_root(), id="demo-tree"), before=0
            )
        self.toggle_class("-browse")
        self.refit()
        if self.has_class("-browse"):
            self.query_one(ImageTree).focus()
        else:
            self.set_focus(None)

    def browse_root(self) -> Path:
        if self.file is not None:
            return self.file.parent
        data = self.loaded.config.data.data if self.loaded is not None else None
        return Path(data) if data is not None and Path(data).is_dir() else Path.cwd()

    @on(Input.Submitted, "#demo-path")
    def path_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        from workbench.engine.predict import folder_images

        path = Path(event.value.strip()).expanduser()
        field = self.query_one(LabelledInput)
        if not event.value.strip() or not path.exists():
            field.show_error(f"{event.value.strip() or '(empty)'}: no such file or folder")
            return
        field.show_error("")
        self.set_focus(None)
        if path.is_dir():
            self.files = folder_images(path)
            if not self.files:
                field.show_error(f"{path}: no image files in this folder")
                return
            self.show_file(self.files[0])
        else:
            self.show_file(path)

    @on(DirectoryTree.FileSelected, "#demo-tree")
    def file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.show_file(event.path)

    def action_step(self, delta: int) -> None:
        if not self.files:
            self.status("no folder yet: type a folder's path (e) or browse (b)")
            return
        index = self.files.index(self.file) if self.file in self.files else -delta
        self.show_file(self.files[(index + delta) % len(self.files)])

    def show_file(self, path: Path) -> None:
        """Predict ``path`` in the background (its folder's images become n/p's list)."""
        from workbench.engine.predict import folder_images

        if path.parent.is_dir() and path not in self.files:
            self.files = folder_images(path.parent)
        self.file = path
        if self.loaded is None:
            self.status(f"{path.name}: pick a run first (o)")
            return
        self.status(f"predicting {path.name}…")
        self.predict(self.loaded, path)

    @work(thread=True, exclusive=True, group="demo-predict", exit_on_error=False, name="predicting")
    def predict(self, loaded: LoadedModel, path: Path) -> None:
        from workbench.engine.predict import Unreadable, explain, predict_files

        with self.model_lock:
            [result] = predict_files(loaded, [path])
            if isinstance(result, Unreadable):
                self.post_message(self.Failed(path.name, result.reason))
                return
            self.post_message(self.Predicted(path, result))
            cam = explain(loaded, result, result.predicted)
        self.post_message(self.CamReady(result.file, result.predicted, cam))

    async def on_demo_screen_predicted(self, message: Predicted) -> None:
        if message.file != self.file:
            return
        self.prediction, self.cams = message.prediction, {}
        self.cam_class = message.prediction.predicted
        position = f" ({self.files.index(message.file) + 1}/{len(self.files)}, n/p)"
        self.status(f"{message.file}{position if message.file in self.files else ''}")
        await self.show_picture("#demo-picture", message.prediction.image, "as the model sees it")
        self.draw_bars()

    # ------------------------------------------------------------------ Grad-CAM

    def action_toggle_cam(self) -> None:
        self.toggle_class("-cam")
        self.refit()

    def action_cam_class(self) -> None:
        prediction, loaded = self.prediction, self.loaded
        if prediction is None or loaded is None or self.cam_class is None:
            return
        self.cam_class = (self.cam_class + 1) % len(loaded.classes)
        if not self.has_class("-cam"):
            self.action_toggle_cam()
        if self.cam_class in self.cams:
            self.run_worker(self.draw_cam(), group="demo-draw", exclusive=True)
        else:
            self.compute_cam(loaded, prediction, self.cam_class)
        self.draw_bars()

    @work(thread=True, exclusive=True, group="demo-cam", exit_on_error=False, name="Grad-CAM")
    def compute_cam(self, loaded: LoadedModel, prediction: ImagePrediction, index: int) -> None:
        from workbench.engine.predict import explain

        with self.model_lock:
            cam = explain(loaded, prediction, index)
        self.post_message(self.CamReady(prediction.file, index, cam))

    async def on_demo_screen_cam_ready(self, message: CamReady) -> None:
        if self.prediction is None or message.file != self.prediction.file:
            return
        self.cams[message.class_index] = message.cam
        if message.class_index == self.cam_class:
            await self.draw_cam()

    async def draw_cam(self) -> None:
        prediction, loaded, index = self.prediction, self.loaded, self.cam_class
        if prediction is None or loaded is None or index is None or index not in self.cams:
            return
        overlay = cam_overlay(prediction.image, self.cams[index])
        await self.show_picture("#demo-cam", overlay, f"Grad-CAM for {loaded.classes[index]} (k)")

    # ------------------------------------------------------------------ drawing

    async def show_picture(self, pane_id: str, pixels: np.ndarray, caption: str) -> None:
        """Put ``pixels`` in the pane, replacing what was there, sized to fit it."""
        pane = self.query_one(pane_id, Vertical)
        pane.query_one(".demo-caption", Static).update(caption)
        for old in pane.query(".demo-image"):
            await old.remove()
        picture = image_widget(to_pil(pixels), classes="demo-image")
        await pane.mount(picture)
        self.refit()

    def fit_picture(self, pane: Widget, picture: Widget) -> None:
        """The largest square picture the pane holds (terminal cells are about twice as high
        as wide; textual-image knows the ratio)."""
        cell = get_cell_size()
        rows = max(pane.size.height - 1, 4)
        ratio = cell.height / cell.width
        rows = max(min(rows, int(pane.size.width / ratio)), 4)
        picture.styles.height = rows
        picture.styles.width = max(round(rows * ratio), 8)

    def refit(self) -> None:
        """Fit every picture to its pane once the layout has settled (a pane shown or hidden,
        the terminal resized)."""
        for pane in self.query(".demo-pane"):
            for picture in pane.query(".demo-image"):
                self.call_after_refresh(self.fit_picture, pane, picture)

    def on_resize(self) -> None:
        self.refit()

    def draw_bars(self) -> None:
        from workbench.engine.predict import LOW_CONFIDENCE

        prediction, loaded = self.prediction, self.loaded
        if prediction is None or loaded is None:
            return
        classes = loaded.classes
        verdict = Text.assemble(
            ("predicted ", "dim"),
            (classes[prediction.predicted], "bold cyan"),
            f" {prediction.confidence:.1%}",
        )
        certainty = Text(f"entropy {prediction.relative_entropy:.0%} of its maximum", style="dim")
        bars = probability_bars(prediction.probabilities, classes, None, BARS_WIDTH - 2)
        lines: list[Text] = [verdict, bars, certainty]
        if prediction.low_confidence:
            lines.append(
                Text(
                    f"low confidence (≥ {LOW_CONFIDENCE:.0%}): close to guessing; an image "
                    "unlike the training data still gets a class",
                    style="bold yellow",
                )
            )
        if self.cam_class is not None:
            shown = f"Grad-CAM: {classes[self.cam_class]} (c show, k class)"
            lines.append(Text(shown, style="dim"))
        self.query_one("#demo-bars", Static).update(Group(*lines))

    def status(self, text: str, *, error: bool = False) -> None:
        line = self.query_one("#demo-status", Static)
        line.update(text)
        line.set_class(error, "error-text")
