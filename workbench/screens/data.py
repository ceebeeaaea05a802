"""The Data screen (Q3 a, b, d): scan report, split and fingerprint, the 45-image grid, the
augmentation preview and one sample's one-hot target.

All work runs in thread workers that call the data engine and post messages: scanning and
decoding (through the engine's on-disk cache) with throttled progress, then the previews.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from workbench.app import DataCheck
from workbench.config import DataConfig
from workbench.errors import user_message
from workbench.screens.base import PANE_SCROLL_BINDINGS, PICTURES_HELP, WorkbenchScreen
from workbench.widgets.status import ProgressLine, ProgressUpdate, Throttle

if TYPE_CHECKING:
    import numpy as np

    from workbench.engine.prepared import PreparedData
    from workbench.engine.scan import ScanResult
    from workbench.engine.split import SplitResult

GRID_PER_CLASS = 5
PREVIEWS = 8
SPLITS = ("train", "val", "test")
BACKENDS = ("builtin", "albumentations")


TABS = ("tab-scan", "tab-grid", "tab-augment")
"""The tabs, in order."""


class DataScreen(WorkbenchScreen):
    """Tabs: scan and split, image grid, augmentations."""

    HELP = f"""
The data set of this session: `--data DIR|ZIP` on the command line, or type a folder or a
`.zip` in the path field (**e** to edit, Enter to load; empty means the built-in demo set).
The workbench checks every file, leaves out the ones it cannot use (listed with the reason),
splits each class 70/10/20 with the seed, and decodes the images once into a cache.

- **Scan & split**: images per class, left-out files, the split table and its fingerprint
  (compare it with a classmate's to know your splits agree), and one training sample with its
  one-hot target (**o** shows another).
- **Images**: the first 5 images of each class in each split (45 for 3 classes).
- **Augment**: one training image and random augmentations of it, each labelled with what was
  applied; **n** draws new ones, **b** switches between the built-in (batched, on the device)
  and the albumentations backends.
{PICTURES_HELP}"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit_path", "Path"),
        Binding("o", "next_sample", "Sample"),
        Binding("n", "redraw", "Augment"),
        Binding("b", "switch_backend", "Backend"),
        Binding("left_square_bracket", "tab(-1)", "Prev tab", show=False),
        Binding("right_square_bracket", "tab(1)", "Next tab", show=False),
        *PANE_SCROLL_BINDINGS,
    ]

    @dataclass
    class Scanned(Message):
        data: str | None
        """The data path that was scanned."""
        scan: ScanResult
        split: SplitResult

    @dataclass
    class Prepared(Message):
        data: PreparedData

    @dataclass
    class Failed(Message):
        data: str | None
        """The data path that could not be used."""
        error: str

    @dataclass
    class Previews(Message):
        source: np.ndarray
        caption: str
        items: list[tuple[Any, str]]

    @dataclass
    class Sample(Message):
        text: str

    def __init__(self) -> None:
        super().__init__(id="data")
        self.title = "Data"
        self.scan: ScanResult | None = None
        self.split: SplitResult | None = None
        self.prepared: PreparedData | None = None
        self.backend = "builtin"
        self.augment_seed = 0
        self.sample_index = 0
        self.busy = False
        self.preview_captions: list[str] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="data-path-row"):
            yield Static("data", classes="field-label")
            yield Input(
                self.wb.data_path or "",
                placeholder="built-in demo set (type a folder or .zip, Enter)",
                id="data-path",
                compact=True,
            )
        yield ProgressLine(id="data-progress")
        with TabbedContent(id="data-tabs", initial="tab-scan"):
            with TabPane("Scan & split", id="tab-scan"), VerticalScroll(id="scan-body"):
                with Horizontal(id="scan-tables"):
                    with Vertical(classes="half"):
                        yield Static("Split (70/10/20 per class)", classes="title")
                        yield DataTable(id="split-table", cursor_type="none", show_cursor=False)
                        yield Static("", id="fingerprint")
                    with Vertical(classes="half"):
                        yield Static("One training sample", classes="title")
                        yield Static("…", id="one-hot")
                yield Static("Left out", classes="title")
                yield Static("", id="skipped")
            with TabPane("Images (first 5 per class and split)", id="tab-grid"):
                yield VerticalScroll(id="image-grid")
            with TabPane("Augment", id="tab-augment"):
                yield Static("", id="augment-title")
                yield VerticalScroll(id="augment-grid")

    def on_mount(self) -> None:
        table = self.query_one("#split-table", DataTable)
        for column in ("class", *SPLITS, "total"):
            table.add_column(column, key=column)
        self.call_after_refresh(self.load)  # after the first frame (the worker imports torch)

    # ---- loading ------------------------------------------------------------------------
    def load(self) -> None:
        self.scan = self.split = self.prepared = None
        self.busy = True
        self.query_one(ProgressLine).show("loading the engine and scanning…", 0, 0)
        self.run_load(
            DataConfig(data=self.wb.data_path, cache_dir=self.wb.cache_dir),
        )

    @work(thread=True, exclusive=True, group="data", exit_on_error=False, name="loading data")
    def run_load(self, config: DataConfig) -> None:
        from workbench.engine.data import prepare_data
        from workbench.engine.scan import scan_dataset
        from workbench.engine.split import split_dataset
        from workbench.errors import UsageError

        progress = Throttle(self.post_message)
        try:
            scan = scan_dataset(
                config.data,
                cache_dir=config.cache_dir,
                seed=config.seed,
                demo_per_class=config.demo_per_class,
                progress=progress,
            )
            self.post_message(self.Scanned(config.data, scan, split_dataset(scan, config.seed)))
            self.post_message(self.Prepared(prepare_data(config, progress)))
        except UsageError as error:
            self.post_message(self.Failed(config.data, user_message(error)))

    def on_progress_update(self, message: ProgressUpdate) -> None:
        if self.busy:
            self.query_one(ProgressLine).show(message.task, message.done, message.total)

    def on_data_screen_failed(self, message: Failed) -> None:
        self.busy = False
        self.wb.data_check = DataCheck(message.data, problem=message.error)
        self.query_one(ProgressLine).fail(f"Cannot use this data: {message.error}")
        self.notify(message.error, title="Data", severity="error", timeout=10)

    def on_data_screen_scanned(self, message: Scanned) -> None:
        self.scan, self.split = message.scan, message.split
        self.wb.data_check = DataCheck(message.data, tuple(message.scan.classes))
        table = self.query_one("#split-table", DataTable)
        table.clear()
        totals = dict.fromkeys(SPLITS, 0)
        for name, counts in message.split.counts().items():
            table.add_row(name, *(str(counts[s]) for s in SPLITS), str(sum(counts.values())))
            for s in SPLITS:
                totals[s] += counts[s]
        table.add_row("all", *(str(totals[s]) for s in SPLITS), str(sum(totals.values())))
        self.query_one("#fingerprint", Static).update(
            f"fingerprint [b]{message.split.fingerprint}[/b] (seed {message.split.seed})\n"
            f"{escape(message.scan.source)}: {len(message.scan.paths)} images, "
            f"{len(message.scan.classes)} classes"
        )
        skipped = message.scan.skipped
        lines = [escape(f"{s.path} — {s.reason}") for s in skipped[:500]]
        if len(skipped) > 500:
            lines.append(f"… and {len(skipped) - 500} more")
        self.query_one("#skipped", Static).update(
            "\n".join(lines) if lines else "nothing: every file is a usable image"
        )

    async def on_data_screen_prepared(self, message: Prepared) -> None:
        self.busy = False
        data = self.prepared = message.data
        from workbench.engine.cache import UNCACHED

        if data.cache_hit:
            note = "cache hit"
        else:
            note = "decoded and cached" if data.cache_path else f"decoded, not cached: {UNCACHED}"
        self.query_one(ProgressLine).show(
            f"{len(data.scan.paths)} images at {data.image_size}px ({note})"
        )
        await self.draw_grid(data)
        self.action_next_sample(first=True)
        self.make_previews(data, self.backend, self.augment_seed)

    # ---- image grid ---------------------------------------------------------------------
    async def draw_grid(self, data: PreparedData) -> None:
        from workbench.widgets.images import Thumb

        grid = self.query_one("#image-grid", VerticalScroll)
        await grid.remove_children()
        rows: list[Widget] = []
        for split in SPLITS:
            indices = data.split.indices(split)
            for label, name in enumerate(data.classes):
                first = [i for i in indices if data.scan.labels[i] == label][:GRID_PER_CLASS]
                thumbs = [
                    Thumb(data.images[i].numpy(), data.scan.paths[i].rsplit("/", 1)[-1])
                    for i in first
                ]
                rows.append(Static(f"{split} · {name}", classes="grid-label"))
                rows.append(Horizontal(*thumbs, classes="grid-row"))
        await grid.mount_all(rows)

    def grid_count(self) -> int:
        from workbench.widgets.images import Thumb

        return len(self.query_one("#image-grid").query(Thumb))

    # ---- augmentations ------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="augment", exit_on_error=False, name="augmenting")
    def make_previews(self, data: PreparedData, backend: str, seed: int) -> None:
        from workbench.engine.augment import preview_augmentations

        index = data.split.indices("train")[0]
        image = data.images[index].permute(1, 2, 0).numpy().copy()
        items = preview_augmentations(image, backend, PREVIEWS, seed)
        caption = f"{data.scan.paths[index]} ({data.classes[data.scan.labels[index]]})"
        self.post_message(self.Previews(image, caption, items))

    async def on_data_screen_previews(self, message: Previews) -> None:
        from workbench.widgets.images import Thumb

        self.preview_captions = [caption for _, caption in message.items]
        self.query_one("#augment-title", Static).update(
            f"[b]{self.backend}[/b] backend, seed {self.augment_seed} · n new draw · "
            f"b switch backend · {escape(message.caption)}"
        )
        grid = self.query_one("#augment-grid", VerticalScroll)
        await grid.remove_children()
        thumbs = [Thumb(message.source, "original", classes="augment-thumb")]
        thumbs += [Thumb(img, text, classes="augment-thumb") for img, text in message.items]
        await grid.mount(Horizontal(*thumbs, id="augment-row"))

    def action_redraw(self) -> None:
        if self.prepared is not None:
            self.augment_seed += 1
            self.make_previews(self.prepared, self.backend, self.augment_seed)
        self.query_one(TabbedContent).active = "tab-augment"

    def action_switch_backend(self) -> None:
        self.backend = BACKENDS[(BACKENDS.index(self.backend) + 1) % len(BACKENDS)]
        if self.prepared is not None:
            self.make_previews(self.prepared, self.backend, self.augment_seed)
        self.query_one(TabbedContent).active = "tab-augment"

    # ---- one-hot sample -----------------------------------------------------------------
    def action_next_sample(self, first: bool = False) -> None:
        if self.prepared is None:
            return
        count = len(self.prepared.split.indices("train"))
        self.sample_index = 0 if first else random.randrange(count)
        self.make_sample(self.prepared, self.sample_index)

    @work(thread=True, exclusive=True, group="sample", exit_on_error=False, name="one-hot sample")
    def make_sample(self, data: PreparedData, item: int) -> None:
        from workbench.engine.loader import OneHotDataset

        dataset = OneHotDataset(data, "train")
        x, y = dataset[item]
        index = int(dataset.indices[item])
        name = data.classes[data.scan.labels[index]]
        vector = ", ".join(f"{v:g}" for v in y.tolist())
        self.post_message(
            self.Sample(
                f"train[{item}] = {escape(data.scan.paths[index])}\n"
                f"class [b]{escape(name)}[/b] → one-hot [b][{vector}][/b]  "
                f"({y.dtype}, shape {tuple(y.shape)})\n"
                f"classes {escape(str(data.classes))}\n"
                f"image {tuple(x.shape)} {x.dtype}, normalised with the train split's "
                f"mean {tuple(round(m, 3) for m in data.mean)}"
            )
        )

    def on_data_screen_sample(self, message: Sample) -> None:
        self.query_one("#one-hot", Static).update(message.text)

    # ---- path ---------------------------------------------------------------------------
    def action_edit_path(self) -> None:
        self.query_one("#data-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "data-path":
            value = event.value.strip()
            self.wb.data_path = None if value in ("", "demo") else value
            self.set_focus(None)
            self.load()

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = TABS[(TABS.index(tabs.active) + step) % len(TABS)]

    def action_show_tab(self, tab: str) -> None:
        """Show the tab ``tab`` (one of :data:`TABS`; a presentation's slide)."""
        self.query_one(TabbedContent).active = tab

    def busy_reason(self) -> str | None:
        if self.busy:
            return (
                "The data set is still being scanned and cached; quitting stops that "
                "(it starts again next time)."
            )
        return None
