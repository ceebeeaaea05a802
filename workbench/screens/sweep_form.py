"""The sweep form: values per hyper-parameter; dismisses with a checked grid and base options.

The Runs screen launches ``workbench sweep`` with them as its own process; the sweep's runs
appear in the table as they go. The grid is checked by the engine's own parser
(:func:`workbench.engine.sweep.parse_grid`), so what the form accepts, the command accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from workbench.config import with_values
from workbench.errors import ConfigError, UsageError

GRID_FIELDS = (
    ("lr", "1e-3,3e-3"),
    ("loss", "ce,focal"),
    ("batch-size", ""),
    ("optimizer", ""),
    ("augment", ""),
    ("dropout", ""),
    ("residual", ""),
)
"""Hyper-parameters offered in the form, with a starting value list ('' = not varied)."""


@dataclass(frozen=True)
class SweepRequest:
    """What the form gives back: the grid items and the options every run shares."""

    grid: tuple[str, ...]
    """``NAME=V1,V2`` items, as ``workbench sweep --grid`` takes them."""
    epochs: int
    image_size: int
    runs: int
    """Runs in the sweep (the product of the value counts)."""
    parallel: int = 1
    """Runs trained at once (``workbench sweep --parallel``), each with its share of the
    cores."""


class SweepFormScreen(ModalScreen[SweepRequest | None]):
    """Values per hyper-parameter (comma separated), epochs and image size of every run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Start sweep"),
    ]
    AUTO_FOCUS = "#g-lr"

    def __init__(self, *, epochs: int = 10, image_size: int = 64) -> None:
        super().__init__(id="sweep-form")
        self.epochs = epochs
        self.image_size = image_size

    def compose(self) -> ComposeResult:
        with Vertical(id="sweep-box"):
            yield Static(
                "New sweep: one run per combination, in turn or some at once", classes="title"
            )
            yield Static("comma-separated values; leave empty to keep the default", classes="muted")
            for name, values in GRID_FIELDS:
                with Horizontal(classes="field"):
                    yield Label(name, classes="field-label")
                    yield Input(values, id=f"g-{name}", compact=True)
            with Horizontal(classes="field"):
                yield Label("epochs", classes="field-label")
                yield Input(str(self.epochs), id="g-epochs", compact=True, type="integer")
            with Horizontal(classes="field"):
                yield Label("size", classes="field-label")
                yield Input(str(self.image_size), id="g-size", compact=True, type="integer")
            with Horizontal(classes="field"):
                yield Label("at once", classes="field-label")
                yield Input("1", id="g-parallel", compact=True, type="integer")
            yield Static("", id="sweep-error")
            with Horizontal(id="sweep-buttons"):
                yield Button("Start (ctrl+s)", id="start", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def request(self) -> SweepRequest:
        """The checked request; UsageError with the reason, in the form's words, when something
        is off. Every value is checked by the code the ``workbench sweep`` command runs
        (:func:`~workbench.engine.sweep.parse_grid`, then
        :func:`~workbench.engine.sweep.plan_sweep`: alone, then in each combination), so a
        sweep the form starts does not die on a value the form let through."""
        from workbench.engine.sweep import GridError, parse_grid, plan_sweep

        items = []
        for name, _ in GRID_FIELDS:
            raw = self.query_one(f"#g-{name}", Input).value.replace(" ", "")
            if raw:
                items.append(f"{name}={raw}")
        try:
            epochs = int(self.query_one("#g-epochs", Input).value)
            size = int(self.query_one("#g-size", Input).value)
            parallel = int(self.query_one("#g-parallel", Input).value)
        except ValueError:
            raise UsageError("epochs, size and at once must be whole numbers") from None
        if parallel < 1:
            raise UsageError("at once must be 1 or more runs")
        try:  # the config's own checks, worded as the form labels them
            base = with_values(None, {"epochs": epochs, "image_size": size}).validate()
        except ConfigError as error:
            label = {"image_size": "size"}.get(error.field, error.field)
            raise UsageError(f"{label} {error.message}") from None
        try:
            grid = parse_grid(items)
            plan = plan_sweep(grid, base, "unused")  # nothing is written
        except GridError as error:  # the problem without the command line's "--grid:"
            raise UsageError(error.problem) from None
        return SweepRequest(tuple(grid.to_text()), epochs, size, len(plan.entries), parallel)

    def action_submit(self) -> None:
        try:
            request = self.request()
        except UsageError as error:
            self.query_one("#sweep-error", Static).update(str(error))
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_submit()
        else:
            self.action_cancel()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_submit()
