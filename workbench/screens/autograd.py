"""The Autograd screen (Q1): step through the graph autograd built, forward then backward.

The engine (:func:`workbench.engine.autograd.trace.trace_expression`) builds the program with
PyTorch, traces ``y.grad_fn`` and works the chain rule by hand; this screen only renders the
trace (:mod:`workbench.render.autograd`). ``x``, ``z`` and the code are edited in place:
Enter re-traces in a thread worker; a bad input shows the engine's message under the field the
error names (``InputError.field``) and the last good graph stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from workbench.engine.autograd import DEFAULT_EXPRESSION
from workbench.engine.autograd.ops import FUNCTIONS
from workbench.render.autograd import (
    Step,
    graph_state,
    graph_text,
    step_panel,
    step_title,
    steps_of,
)
from workbench.screens.base import WorkbenchScreen
from workbench.widgets.field import LabelledInput

if TYPE_CHECKING:
    from workbench.engine.autograd import AutogradTrace

DEFAULT_X = "0.1, 0, 0.2, 1"
DEFAULT_Z = "-1, 1, -1, 0"
DEFAULT_EXPR = DEFAULT_EXPRESSION
FIELDS = ("x", "z", "expr")


BEFORE_TRACE_LAST = 1 << 30
"""A position past every step: the first trace clamps it to the last (the comparison)."""


class AutogradScreen(WorkbenchScreen):
    """Inputs on top; the traced graph on the left, the current step on the right."""

    HELP = f"""
Q1: the computation graph that PyTorch's autograd really built for the assignment's
`a = x + 10%4 + z; b = a ** (4*x); c = (b + 3)*5; y = c.mean()`, traced from `y.grad_fn`
down `next_functions`, and the chain rule worked by hand beside it.

**→** steps forward through the forward pass (each node's equation and value for every
element), then through the backward pass (upstream gradient ∂y/∂node, each local derivative as
a formula and as numbers, the contribution and the gradient accumulated so far; at `x` the two
paths, through the base and the exponent of the power, add up). The last step compares the
hand-style float64 gradients with PyTorch's `x.grad`, `z.grad` and the retained intermediate
gradients. **←** steps back; **home**/**end** jump to the first step and to the comparison.

Edit `x`, `z` (1 to 8 numbers, as many in each) or the code and press Enter. The code is one
expression or assignments separated by `;` (paste the assignment's code as is: `c.mean()`,
`torch.exp(x)` and a final `y.backward()` are understood); numbers, x, z, the names assigned,
`+ - * / ** %`, unary minus, {" ".join(FUNCTIONS)}. Nodes carry your names.
A bad input shows the engine's message under the field; the last good graph stays.
Highlighted in the graph: the current node (yellow) and the nodes receiving gradient (green).
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,l", "step(1)", "Next"),
        Binding("left,h", "step(-1)", "Back"),
        Binding("home", "first", "First", show=False),
        Binding("c,end", "last", "Compare"),
        Binding("e", "edit('x')", "Edit x"),
        Binding("t", "edit('expr')", "Code"),
        Binding("d", "toggle_dtype", "dtype"),
        Binding("r", "reset", "Reset"),
    ]

    @dataclass
    class TraceReady(Message):
        request: int
        trace: AutogradTrace

    @dataclass
    class TraceFailed(Message):
        request: int
        field: str
        message: str

    def __init__(self) -> None:
        super().__init__(id="autograd")
        self.title = "Autograd"
        self.trace: AutogradTrace | None = None
        self.steps: list[Step] = []
        self.position = 0
        self.dtype = "float32"
        self.request = 0
        """Number of the latest trace asked for; older answers are dropped."""
        self.last_inputs: dict[str, str] = {"x": DEFAULT_X, "z": DEFAULT_Z, "expr": DEFAULT_EXPR}
        """The x, z and expression of the graph shown (the last good ones)."""
        self.submitted_request = 0
        """Number of the latest trace asked for by Enter in a field: only its error takes the
        focus to the bad field (a key such as ``d`` leaves the focus where it was)."""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="ag-inputs"):
            for name, label, value in (
                ("x", "x", DEFAULT_X),
                ("z", "z", DEFAULT_Z),
                ("expr", "code", DEFAULT_EXPR),
            ):
                yield LabelledInput("ag", name, label, value)
        yield Static("tracing…", id="ag-title")
        with Horizontal(id="ag-body"):
            with VerticalScroll(id="ag-graph-box"):
                yield Static("", id="ag-graph")
            with VerticalScroll(id="ag-panel-box"):
                yield Static("", id="ag-panel")

    def on_mount(self) -> None:
        self.retrace()

    # ------------------------------------------------------------------ tracing

    def retrace(self, *, submitted: bool = False) -> None:
        """Trace the fields' inputs in a worker; ``submitted``: asked for by Enter in a field."""
        values = {name: self.query_one(f"#ag-{name}", Input).value for name in FIELDS}
        self.request += 1
        if submitted:
            self.submitted_request = self.request
        self.run_trace(self.request, values["x"], values["z"], values["expr"], self.dtype)

    @work(thread=True, exclusive=True, group="autograd", exit_on_error=False, name="tracing")
    def run_trace(self, request: int, x: str, z: str, expression: str, dtype: str) -> None:
        from workbench.engine.autograd import InputError, check_inputs

        try:
            check_inputs(x, z, expression, dtype)  # bad input fails before torch is imported
            from workbench.engine.autograd.trace import trace_expression  # torch: 1-2 s once

            trace = trace_expression(x, z, expression, dtype)
        except InputError as error:
            self.post_message(self.TraceFailed(request, error.field, error.message))
            return
        self.post_message(self.TraceReady(request, trace))

    def on_autograd_screen_trace_ready(self, message: TraceReady) -> None:
        if message.request != self.request:
            return  # an older request that finished late
        other_shape = self.trace is not None and [s.node for s in self.trace.forward] != [
            s.node for s in message.trace.forward
        ]
        self.trace = message.trace
        self.steps = steps_of(message.trace)
        if other_shape:
            self.position = 0
        self.position = min(self.position, len(self.steps) - 1)
        for name in FIELDS:
            self._show_error(name, "")
        self.last_inputs = {n: self.query_one(f"#ag-{n}", Input).value for n in FIELDS}
        self.refresh_view()

    def on_autograd_screen_trace_failed(self, message: TraceFailed) -> None:
        if message.request != self.request:
            return
        field = message.field if message.field in FIELDS else "expr"
        for name in FIELDS:
            self._show_error(name, message.message if name == field else "")
        if message.request == self.submitted_request:
            self.query_one(f"#ag-{field}", Input).focus()
        if self.trace is not None:
            self.query_one("#ag-title", Static).update(
                step_title(self.trace, self.steps, self.position)
                + " · (showing the last good graph)"
            )

    def _show_error(self, name: str, text: str) -> None:
        self.query_one(f"#ag-field-{name}", LabelledInput).show_error(text)

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.set_focus(None)
        self.retrace(submitted=True)

    # ------------------------------------------------------------------ drawing

    def refresh_view(self) -> None:
        trace = self.trace
        if trace is None:
            return
        state = graph_state(trace, self.steps, self.position)
        graph = self.query_one("#ag-graph", Static)
        numbers = self.size.width >= 120
        with self.app.batch_update():
            self.query_one("#ag-title", Static).update(step_title(trace, self.steps, self.position))
            graph.update(graph_text(trace, state, numbers=numbers))
            self.query_one("#ag-panel", Static).update(step_panel(trace, self.steps, self.position))
        self.query_one("#ag-panel-box", VerticalScroll).scroll_home(animate=False)

    def on_resize(self) -> None:
        self.refresh_view()

    @property
    def current(self) -> Step | None:
        """The step shown now (None before the first trace)."""
        return self.steps[self.position] if self.steps else None

    def action_step(self, delta: int) -> None:
        if not self.steps:
            return
        position = max(0, min(len(self.steps) - 1, self.position + delta))
        if position != self.position:
            self.position = position
            self.refresh_view()

    def action_first(self) -> None:
        self.action_step(-len(self.steps))

    def action_last(self) -> None:
        if not self.steps:  # asked before the first trace (a presentation's slide): go there then
            self.position = BEFORE_TRACE_LAST
        self.action_step(len(self.steps))

    def action_edit(self, name: str) -> None:
        self.query_one(f"#ag-{name}", Input).focus()

    def action_toggle_dtype(self) -> None:
        self.dtype = "float64" if self.dtype == "float32" else "float32"
        self.notify(f"PyTorch now computes in {self.dtype}", timeout=2)
        self.retrace()

    def action_reset(self) -> None:
        for name, value in (("x", DEFAULT_X), ("z", DEFAULT_Z), ("expr", DEFAULT_EXPR)):
            self.query_one(f"#ag-{name}", Input).value = value
        self.dtype = "float32"
        self.position = 0
        self.retrace()
