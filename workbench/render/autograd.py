"""Rich renderables of a Q1 autograd trace: the graph as a tree, one step, the comparison.

Pure presentation of :class:`workbench.engine.autograd.AutogradTrace`: every number shown
comes from the trace (forward values, upstream and local gradients, accumulated sums, the
hand-style vs PyTorch rows); nothing is computed here. They are plain rich objects without
Textual: the Autograd screen shows them and ``workbench autograd`` prints the same comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from workbench.engine.autograd import (
        AutogradTrace,
        BackwardStep,
        ForwardStep,
        LocalDerivative,
    )

CURRENT = "bold reverse yellow"
RECEIVING = "bold green"
DONE = ""
PENDING = "dim"


@dataclass(frozen=True)
class Step:
    """One stop of the stepper: a forward step, a backward step, or the final comparison."""

    phase: str  # "forward" | "backward" | "check"
    index: int  # index within its phase
    forward: ForwardStep | None = None
    backward: BackwardStep | None = None


def steps_of(trace: AutogradTrace) -> list[Step]:
    """Forward steps in topological order, backward steps in reverse, then the comparison."""
    steps = [Step("forward", i, forward=s) for i, s in enumerate(trace.forward)]
    steps += [Step("backward", i, backward=s) for i, s in enumerate(trace.backward)]
    steps.append(Step("check", 0))
    return steps


def fmt(value: float, digits: int = 4) -> str:
    """One number, short: ``0.1``, ``444.9``, ``nan``."""
    return f"{value:.{digits}g}"


def vec(values: Sequence[float] | None, digits: int = 4) -> str:
    """``[0.1, 0, 0.2, 1]``; a one-element vector loses its brackets."""
    if values is None:
        return "–"
    parts = [fmt(v, digits) for v in values]
    return parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"


def _element(values: Sequence[float] | None, index: int) -> str:
    """Element ``index`` (a scalar is the same for every element)."""
    if not values:
        return ""
    if len(values) == 1:
        return fmt(values[0])
    return fmt(values[index]) if index < len(values) else ""


@dataclass(frozen=True)
class Column:
    """One column of a :class:`NumberTable`: its header, and the style of its cells."""

    header: str
    style: str = ""


@dataclass(frozen=True)
class NumberTable:
    """Rows of numbers that never break mid-number: a table where it fits the width it is given,
    else one line per row (``header value`` pairs), so ``1.028e+04`` never becomes ``1.028e+`` /
    ``04`` in a narrow terminal."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]

    def table(self) -> Table:
        table = Table(box=None, pad_edge=False, padding=(0, 1), collapse_padding=True)
        table.header_style = "bold"
        for position, column in enumerate(self.columns):
            style = column.style or ("dim" if position == 0 else "")
            table.add_column(column.header, justify="right", style=style, no_wrap=True)
        for row in self.rows:
            table.add_row(*row)
        return table

    def lines(self) -> list[Text]:
        """The narrow form: ``i=0  upstream 1.25  × local 0.3778 …``, wrapped between pairs."""
        out = []
        for row in self.rows:
            line = Text(overflow="fold")
            for position, (column, cell) in enumerate(zip(self.columns, row, strict=True)):
                if position == 0:
                    line.append(f"{column.header}={cell}", style="dim")
                elif cell:
                    line.append("  ")
                    line.append(f"{column.header} ", style="bold")
                    line.append(cell, style=column.style)
            out.append(line)
        return out

    def width(self) -> int:
        """Columns the table needs with every header and number whole, one space between."""
        widths = [
            max(cell_len(text) for text in (column.header, *(row[i] for row in self.rows)))
            for i, column in enumerate(self.columns)
        ]
        return sum(widths) + len(widths) - 1

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.width() <= options.max_width:
            yield self.table()
        else:
            yield from self.lines()


# --------------------------------------------------------------------------- the graph


@dataclass(frozen=True)
class GraphState:
    """What the graph shows at one step: the current node, who receives gradient, what is known."""

    current: frozenset[str]
    receiving: frozenset[str]
    valued: frozenset[str]
    grads: dict[str, tuple[float, ...]]


def graph_state(trace: AutogradTrace, steps: Sequence[Step], position: int) -> GraphState:
    """Nodes with a value (forward steps done) and gradients accumulated so far at ``position``."""
    current: set[str] = set()
    receiving: set[str] = set()
    valued: set[str] = set()
    grads: dict[str, tuple[float, ...]] = {}
    for step in steps[: position + 1]:
        if step.forward is not None:
            valued.add(step.forward.node)
        elif step.backward is not None:
            if step.backward.node == trace.output:
                grads[trace.output] = step.backward.upstream
            for local in step.backward.locals:
                grads[local.input] = local.accumulated
    step = steps[position]
    if step.forward is not None:
        current.add(step.forward.node)
    elif step.backward is not None:
        current.add(step.backward.node)
        receiving.update(local.input for local in step.backward.locals)
    else:
        current.update(node.id for node in trace.nodes if node.kind == "leaf")
    return GraphState(frozenset(current), frozenset(receiving), frozenset(valued), grads)


SIDE_ROLES = ("left operand", "right operand", "left factor", "right factor", "operand", "")
"""Roles not worth a label in the tree (order is clear); base/exponent/numerator… are shown."""


def short_kind(kind: str) -> str:
    """``PowBackward1`` → ``Pow``; leaves and constants unchanged."""
    return kind.split("Backward")[0] if "Backward" in kind else kind


def graph_text(trace: AutogradTrace, state: GraphState, numbers: bool = True) -> Text:
    """The traced graph as a tree from ``y`` down ``next_functions``, one node a line.

    A node reached along two paths (``x``) appears once per path. With ``numbers`` (wide
    screens), a node shows its full autograd kind, its forward value once its forward step is done
    and its gradient once one reached it; without, the kind is shortened (``Pow``).
    """
    incoming: dict[str, list[tuple[str, str, bool]]] = {}
    for edge in trace.edges:
        incoming.setdefault(edge.target, []).append((edge.source, edge.role, edge.in_autograd))
    for target, sources in incoming.items():
        order = trace.node(target).inputs
        sources.sort(key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    text = Text(no_wrap=True, overflow="ellipsis")

    def line(node_id: str, prefix: str, role: str, in_autograd: bool) -> None:
        node = trace.node(node_id)
        text.append(prefix, style="dim")
        if role not in SIDE_ROLES:
            text.append(f"{role}: ", style="dim italic")
        if node_id in state.current:
            style = CURRENT
        elif node_id in state.receiving:
            style = RECEIVING
        elif node.kind == "constant" or node_id not in state.valued:
            style = PENDING
        else:
            style = "bold cyan"
        text.append(f" {node.name} ", style=style)
        if node.kind == "constant":
            kind = "constant, no node" if numbers else "const"
        else:
            kind = node.kind if numbers else short_kind(node.kind)
        text.append(f" {kind}", style="magenta" if node.kind != "constant" else "dim")
        if numbers and node_id in state.valued and node.value is not None:
            text.append(f"  = {vec(node.value, 3)}")
        if numbers and node_id in state.grads:
            text.append(f"  ∂ {vec(state.grads[node_id], 3)}", style="green")
        text.append("\n")

    def walk(node_id: str, indent: str, depth: int) -> None:
        children = incoming.get(node_id, [])
        for position, (source, role, in_autograd) in enumerate(children):
            last = position == len(children) - 1
            line(source, indent + ("└ " if last else "├ "), role, in_autograd)
            if depth < 40:
                walk(source, indent + ("  " if last else "│ "), depth + 1)

    line(trace.output, "", "", True)
    walk(trace.output, "", 0)
    text.rstrip()
    return text


# --------------------------------------------------------------------------- one step


def step_title(trace: AutogradTrace, steps: Sequence[Step], position: int) -> Text:
    """``step 9/21 · backward 3/7 · b = a^(4x)  PowBackward1``."""
    step = steps[position]
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"step {position + 1}/{len(steps)}", style="bold")
    if step.forward is not None:
        text.append(f" · forward {step.index + 1}/{len(trace.forward)} · ")
        text.append(step.forward.equation, style="bold cyan")
        text.append(f"  {step.forward.kind}", style="magenta")
    elif step.backward is not None:
        text.append(f" · backward {step.index + 1}/{len(trace.backward)} · ")
        text.append(step.backward.equation, style="bold cyan")
        text.append(f"  {step.backward.kind}", style="magenta")
    else:
        text.append(" · hand-style against PyTorch", style="bold cyan")
    return text


def forward_panel(trace: AutogradTrace, step: ForwardStep) -> RenderableType:
    """The node's equation and, per element, its operands and its value."""
    node = trace.node(step.node)
    parts: list[RenderableType] = [Text(step.equation, style="bold")]
    if node.kind == "leaf":
        parts.append(
            Text(f"an input tensor with requires_grad (AccumulateGrad collects {node.name}.grad)")
        )
    elif node.kind == "constant":
        parts.append(Text("a Python number: autograd records no node for it", style="dim"))
    operands = [trace.node(i) for i in node.inputs]
    columns = (
        Column("i"),
        *(Column(operand.name) for operand in operands),
        Column(node.name, "bold cyan"),
    )
    size = max([len(node.value or ())] + [len(o.value or ()) for o in operands])
    rows = tuple(
        (
            str(index),
            *(_element(o.value, index) for o in operands),
            _element(node.value, index),
        )
        for index in range(size)
    )
    parts.append(NumberTable(columns, rows))
    if step.note:
        parts.append(Text(step.note, style="italic"))
    if node.scalar and node.id == trace.output and trace.reduced:
        parts.append(Text("a vector result is reduced with mean, as y = c.mean()", style="dim"))
    return Group(*parts)


def _previous(
    trace: AutogradTrace, step: BackwardStep, local: LocalDerivative
) -> LocalDerivative | None:
    """The last earlier backward contribution to the same input (accumulation), if any."""
    found = None
    for earlier in trace.backward[: step.index]:
        for candidate in earlier.locals:
            if candidate.input == local.input:
                found = candidate
    return found


def backward_panel(trace: AutogradTrace, step: BackwardStep) -> RenderableType:
    """Upstream gradient, each local derivative (formula, numbers), contribution, running sum."""
    from workbench.engine.autograd import grad_label

    parts: list[RenderableType] = [
        Text.assemble(
            ("upstream ", "bold"), (grad_label(step.name), "bold"), f" = {vec(step.upstream)}"
        )
    ]
    if step.node == trace.output:
        parts.append(Text("the start of the backward pass: ∂y/∂y = 1", style="dim"))
    for local in step.locals:
        previous = _previous(trace, step, local)
        parts.append(Text(""))
        parts.append(Text(local.formula, style="bold yellow"))
        columns = [Column("i"), Column("upstream"), Column("× local"), Column("= contrib.")]
        if previous is not None:
            columns.append(Column("+ before"))
        columns.append(Column(grad_label(local.input_name), "bold green"))
        size = max(len(local.local), len(local.contribution), len(local.accumulated))
        rows = []
        for index in range(size):
            row = [
                str(index),
                _element(step.upstream, index),
                _element(local.local, index),
                _element(local.contribution, index),
            ]
            if previous is not None:
                row.append(_element(previous.accumulated, index))
            row.append(_element(local.accumulated, index))
            rows.append(tuple(row))
        parts.append(NumberTable(tuple(columns), tuple(rows)))
        if previous is not None:
            parts.append(
                Text(
                    f"{local.input_name} is reached along a second path: its gradient so far "
                    f"{vec(previous.accumulated)} (via {_via(trace, previous)}) and this "
                    f"contribution {vec(local.contribution)} add up to {vec(local.accumulated)}.",
                    style="italic green",
                )
            )
        elif local.note:
            parts.append(Text(local.note, style="italic"))
    for issue in trace.issues:
        if issue.node == step.node:
            parts.append(Text(f"⚠ [{issue.severity}] {issue.text}", style="yellow"))
    return Group(*parts)


def _via(trace: AutogradTrace, local: LocalDerivative) -> str:
    for step in trace.backward:
        if local in step.locals:
            return step.name
    return "?"


def comparison_panel(trace: AutogradTrace) -> RenderableType:
    """The hand-style (float64) gradients against PyTorch's, the verdict, notes and issues:
    the one rendering of the comparison, for the screen and the CLI alike."""
    from workbench.engine.autograd import grad_label, largest_finite
    from workbench.engine.export.autograd import zero_exponent_notes

    check = trace.check
    parts: list[RenderableType] = []
    rows = {row.node: row for row in check.rows}
    for leaf in ("x", "z"):
        row = rows.get(leaf)
        if row is None:
            continue
        table = Table(
            title=f"{grad_label(row.name)}: hand-style (float64) against PyTorch ({trace.dtype})",
            title_justify="left",
            title_style="bold",
            header_style="bold",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            padding=(0, 1),
            collapse_padding=True,
        )
        for column in ("i", "hand", "PyTorch", "rel diff", "status"):
            table.add_column(
                column,
                justify="left" if column == "status" else "right",
                no_wrap=column != "status",
                overflow="fold",  # never an ellipsis in a number
            )
        for index, (hand, torch_value, diff, status) in enumerate(
            zip(row.hand, row.torch, row.rel_diff, row.status, strict=True)
        ):
            table.add_row(
                str(index),
                fmt(hand, 7),
                fmt(torch_value, 7),
                f"{diff:.1e}",
                Text(status, style="green" if status == "ok" else "yellow"),
            )
        parts.append(table)
    others = Table(
        title="retained intermediate gradients",
        title_justify="left",
        title_style="bold",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("gradient", "PyTorch", "max rel diff", "status"):
        others.add_column(column, justify="right" if column == "max rel diff" else "left")
    for row in check.rows:
        if row.node in ("x", "z"):
            continue
        status = "ok" if all(s == "ok" for s in row.status) else ", ".join(sorted(set(row.status)))
        others.add_row(
            grad_label(row.name),
            vec(row.torch, 4),
            f"{largest_finite(row.rel_diff):.1e}",
            Text(status, style="green" if status == "ok" else "yellow"),
        )
    verdict = Text.assemble(
        f"largest relative difference {check.max_rel_diff:.3e} (rtol {check.rtol:g}, "
        f"atol {check.atol:g}): ",
        ("agree", "bold green") if check.ok else ("DIFFER", "bold red"),
    )
    parts += [verdict, Text(check.note, style="dim"), others]
    for note in [*trace.notes, *zero_exponent_notes(trace)]:
        parts.append(Text(f"• {note}"))
    for issue in trace.issues:
        parts.append(Text(f"⚠ [{issue.severity}] {issue.text}", style="yellow"))
    return Group(*parts)


def step_panel(trace: AutogradTrace, steps: Sequence[Step], position: int) -> RenderableType:
    """The right-hand panel for the step at ``position``."""
    step = steps[position]
    if step.forward is not None:
        return forward_panel(trace, step.forward)
    if step.backward is not None:
        return backward_panel(trace, step.backward)
    return comparison_panel(trace)
