"""The Backprop screen (Q2): the delta rule derived step by step, live, and where it vanishes.

Everything shown is computed by :mod:`workbench.engine.backprop_demo`: the derivation of
Δw11 = η (t1 − o1) o1 (1 − o1) x1 for the numbers typed in (recomputed on every key), the check
of the formula against autograd, the curve o(1−o) against net with the current net1 marked, and
the vanishing-gradient cases, each of which loads its numbers into the fields when selected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from workbench.screens.base import WorkbenchScreen
from workbench.widgets.field import LabelledInput
from workbench.widgets.slope_plot import DeltaMap, SlopePlot

if TYPE_CHECKING:
    from workbench.engine.backprop_demo import BackpropReport, Derivation

FIELDS: tuple[tuple[str, str, str], ...] = (
    ("x1", "x1", "0.5"),
    ("net1", "net1", "0"),
    ("t1", "t1", "1"),
    ("eta", "η", "0.5"),
)
"""(field id, label, default)."""

W0 = (-0.2, 0.2)
"""The other output's weights (w00, w01): fixed, they do not enter Δw11."""


def parse_fields(values: dict[str, str]) -> tuple[dict[str, float], dict[str, str]]:
    """The numbers typed in, or a message for every field that is not a finite number."""
    numbers: dict[str, float] = {}
    errors: dict[str, str] = {}
    for name, label, _ in FIELDS:
        raw = values.get(name, "").strip()
        try:
            value = float(raw)
        except ValueError:
            errors[name] = f"{label}: not a number: {raw!r}" if raw else f"{label}: empty"
            continue
        if not math.isfinite(value):
            errors[name] = f"{label}: give a finite number"
            continue
        numbers[name] = value
    return numbers, errors


SHORT_TITLES = {"baseline": "reference", "tiny_eta": "tiny η", "wrong_side": "wrong side"}
CASE_COLUMNS = (
    ("case", 14), ("Δw11", 9), ("o1(1−o1)", 9), ("t1−o1", 6), ("net1", 4), ("x1", 3), ("t1", 6),
    ("η", 5),
)  # fmt: skip
"""The cases table's columns with fixed widths, wide enough for every case's numbers: the
layout never depends on when the rows arrive."""
"""Case names for the table (the full title is shown when a case is loaded)."""


def derivation_table(derivation: Derivation, explain: bool = True) -> Group:
    """The chain-rule steps: formula, why (dim, below it, if ``explain``) and the value."""
    network = derivation.network
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, header_style="bold", expand=True)
    table.add_column("#", justify="right", style="dim", width=2)
    table.add_column("step", ratio=1)
    table.add_column("value", justify="right")
    for step in derivation.steps:
        cell = Text(step.formula, style="bold yellow" if step.quantity == "Δw11" else "bold")
        if explain:
            cell.append("\n" + step.explanation, style="dim")
        table.add_row(str(step.index), cell, Text(f"{step.value:.6g}", style="bold"))
    header = Text.assemble(
        ("x", "bold"),
        f" = {list(network.inputs)} (x0 = 1 is the bias)   ",
        ("w1", "bold"),
        f" = {list(network.w1)}   ",
        ("w0", "bold"),
        f" = {list(network.w0)}   t0 = {network.t0:g}",
    )
    note = Text(
        "net1 enters as the bias w10 (w11 = 0): x1 changes Δw11 but not net1.",
        style="dim italic",
    )
    general = Text(f"In general: {derivation.general}", style="bold")
    return Group(header, note, table, general)


class BackpropScreen(WorkbenchScreen):
    """Fields on top; the derivation on the left; the slope plot and the cases on the right."""

    HELP = """
Q2: a one-layer sigmoid network (x0 = 1 is the bias, o1 = σ(net1), o0 = σ(net0)), loss
E = ½[(t1 − o1)² + (t0 − o0)²], update Δw = −η ∂E/∂w. The derivation of
**Δw11 = η (t1 − o1) o1 (1 − o1) x1** is shown step by step with the numbers of the fields
(`x1`, `net1`, `t1`, `η`), recomputed as you type; the plot marks where net1 sits on the curve
o(1−o), which is at most 1/4; **m** switches to the map of |Δw11| over (net1, x1) for the
current t1 and η: █ where the update is large, blank where it vanishes.

The table lists every way the update vanishes (saturation, zero input, target reached, tiny η,
wrong-side saturation, a deep stack of ≤ 1/4 factors); **Enter** on a case loads its numbers
into the fields and explains it. The check line compares the formula with autograd on random
float64 draws.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "edit", "Edit numbers"),
        Binding("v", "cases", "Cases"),
        Binding("m", "toggle_map", "o(1−o) / |Δw| map"),
        Binding("r", "reset", "Reset"),
    ]
    AUTO_FOCUS = "#bp-cases"

    @dataclass
    class ReportReady(Message):
        report: BackpropReport

    def __init__(self) -> None:
        super().__init__(id="backprop")
        self.title = "Backprop"
        self.report: BackpropReport | None = None
        self.derivation: Derivation | None = None
        self.errors: dict[str, str] = {}

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="bp-inputs"):
            for name, label, value in FIELDS:
                yield LabelledInput("bp", name, label, value)
        yield Static("loading the engine…", id="bp-update")
        with Horizontal(id="bp-body"):
            with VerticalScroll(id="bp-left"):
                yield Static("", id="bp-derivation")
                yield Static("", id="bp-check")
            with Vertical(id="bp-right"):
                yield SlopePlot(id="bp-plot")
                yield DeltaMap(id="bp-map")
                cases: DataTable[str | Text] = DataTable(id="bp-cases", cursor_type="row")
                yield cases
                yield Static("", id="bp-case-note")

    def on_mount(self) -> None:
        table = self.query_one("#bp-cases", DataTable)
        for column, width in CASE_COLUMNS:
            table.add_column(column, key=column, width=width)
        self.load_report()

    @work(thread=True, exclusive=True, group="backprop", exit_on_error=False, name="backprop")
    def load_report(self) -> None:
        from workbench.engine.backprop_demo import backprop_report  # torch: 1-2 s once

        self.post_message(self.ReportReady(backprop_report()))

    def on_backprop_screen_report_ready(self, message: ReportReady) -> None:
        report = message.report
        self.report = report
        table = self.query_one("#bp-cases", DataTable)
        table.clear()
        for case in report.cases:
            table.add_row(
                SHORT_TITLES.get(case.key, case.key.replace("_", " ")),
                f"{case.delta_w11:.3g}",
                f"{case.slope:.3g}",
                f"{case.error:.4g}",
                f"{case.net1:g}",
                f"{case.x1:g}",
                f"{case.t1:.4g}",
                f"{case.eta:g}",
                key=case.key,
            )
        check = report.check
        verdict = ("agree", "bold green") if check.ok else ("DIFFER", "bold red")
        self.query_one("#bp-check", Static).update(
            Text.assemble(
                "\nThe formula against autograd on ",
                f"{len(check.trials)} random float64 draws (every weight of both outputs): "
                f"largest relative difference {check.max_rel_diff:.2e}, tolerance "
                f"{check.tolerance:g}: ",
                verdict,
                ("\n" + check.note, "dim"),
            )
        )
        self.recompute()

    # ------------------------------------------------------------------ live update

    def field_values(self) -> dict[str, str]:
        return {name: self.query_one(f"#bp-{name}", Input).value for name, _, _ in FIELDS}

    @on(Input.Changed)
    def changed(self, event: Input.Changed) -> None:
        event.stop()
        self.recompute()

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.set_focus(None)

    def recompute(self) -> None:
        """Parse the fields and, if they are good numbers, derive Δw11 for them (microseconds)."""
        numbers, errors = parse_fields(self.field_values())
        self.errors = errors
        for name, _, _ in FIELDS:
            self.query_one(f"#bp-field-{name}", LabelledInput).show_error(errors.get(name, ""))
        if self.report is None:
            return
        if errors:
            if self.derivation is not None:
                self.query_one("#bp-update", Static).update(
                    Text("a field is not a number: the numbers below are the last good ones")
                )
            return
        from workbench.engine.backprop_demo import (
            Network,
            delta_w_map,
            derive,
            sigmoid,
            sigmoid_curve,
        )
        from workbench.errors import UsageError

        network = Network(
            x=(numbers["x1"],),
            w1=(numbers["net1"], 0.0),
            w0=W0,
            t1=numbers["t1"],
            eta=numbers["eta"],
        )
        try:
            derivation = derive(network)
        except UsageError as error:
            self.query_one("#bp-update", Static).update(Text(str(error), style="bold red"))
            return
        self.derivation = derivation
        values: dict[str, Any] = {step.quantity: step.value for step in derivation.steps}
        net1 = values["net1"]
        self.query_one("#bp-update", Static).update(
            Text.assemble(
                ("Δw11 = η (t1 − o1) o1 (1 − o1) x1", "bold"),
                f" = {numbers['eta']:g} · ({numbers['t1']:g} − {values['o1']:.4g}) · "
                f"{values['∂o1/∂net1']:.4g} · {numbers['x1']:g} = ",
                (f"{derivation.delta_w11:.6g}", "bold yellow"),
            )
        )
        self.query_one("#bp-derivation", Static).update(
            derivation_table(derivation, explain=self.size.width >= 120)
        )
        low, high = min(-10.0, net1 - 2.0), max(10.0, net1 + 2.0)
        curve = sigmoid_curve(low, high, 201)
        o1 = sigmoid(net1)
        self.query_one("#bp-plot", SlopePlot).set_data(
            curve.net, curve.slope, (net1, values["∂o1/∂net1"] if o1 == o1 else 0.0)
        )
        x1 = numbers["x1"]
        columns = max(21, min(121, self.query_one("#bp-map", DeltaMap).size.width - 9))
        self.query_one("#bp-map", DeltaMap).set_data(
            delta_w_map(
                (low, high),
                (min(-2.0, x1 - 0.5), max(2.0, x1 + 0.5)),
                points=columns,
                t1=numbers["t1"],
                eta=numbers["eta"],
            ),
            (net1, x1),
        )

    def on_resize(self) -> None:
        self.recompute()

    # ------------------------------------------------------------------ cases

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.load_case(str(event.row_key.value))

    def load_case(self, key: str) -> None:
        """Put a vanishing case's numbers into the fields and explain it."""
        if self.report is None:
            return
        case = next(c for c in self.report.cases if c.key == key)
        with self.app.batch_update():
            for name, value in (
                ("x1", case.x1),
                ("net1", case.net1),
                ("t1", case.t1),
                ("eta", case.eta),
            ):
                self.query_one(f"#bp-{name}", Input).value = f"{value:.10g}"
            self.query_one("#bp-case-note", Static).update(
                Text.assemble(
                    (f"{case.title}: ", "bold"),
                    case.explanation,
                    (
                        f"  (Δw11 = {case.delta_w11:.3g} against {case.baseline:.3g} at the "
                        "reference point)",
                        "dim",
                    ),
                )
            )
        self.recompute()

    def action_toggle_map(self) -> None:
        self.toggle_class("-map")
        self.call_after_refresh(self.recompute)  # the map's grid follows its new width

    def action_edit(self) -> None:
        self.query_one("#bp-x1", Input).focus()

    def action_cases(self) -> None:
        self.query_one("#bp-cases", DataTable).focus()

    def action_reset(self) -> None:
        for name, _, value in FIELDS:
            self.query_one(f"#bp-{name}", Input).value = value
        self.query_one("#bp-case-note", Static).update("")
        self.recompute()
