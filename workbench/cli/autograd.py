"""``workbench autograd``: Q1's computation graph, forward and backward steps, and the check."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from workbench.cli.common import HelpFormatter, emit_json, out_console

if TYPE_CHECKING:
    from workbench.engine.autograd_demo import AutogradTrace

HELP = "Q1: trace autograd's graph, step through it by hand, compare with PyTorch"
DESCRIPTION = """\
Build y from x and z with PyTorch (by default the assignment's
y = ((((x + 10%4 + z) ** (4*x)) + 3) * 5).mean()), trace the graph autograd really
built from y.grad_fn, list the forward steps and the backward steps (local derivative as a
formula and as numbers), and compare a float64 hand-style chain rule with PyTorch's grads.

Expressions may use numbers, x, z, + - * / ** %, unary minus and
mean sum exp log sin cos tanh sigmoid relu; a vector result is reduced with mean.
Negative numbers need no '=' (--z -1,1,-1,0 works); an expression that starts
with '-' does: --expr=-x*z.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "autograd", help=HELP, description=DESCRIPTION, formatter_class=HelpFormatter
    )
    # Let values such as "-1,1,-1,0" through as arguments instead of unknown options.
    parser._negative_number_matcher = re.compile(r"^-\.?\d")
    parser.add_argument("--x", default="0.1,0,0.2,1", help="x, 1 to 8 comma-separated numbers")
    parser.add_argument("--z", default="-1,1,-1,0", help="z, as many numbers as x")
    parser.add_argument(
        "--expr",
        default="(((x + 10%4 + z) ** (4*x)) + 3) * 5",
        help="the expression over x and z",
    )
    parser.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32", help="PyTorch's dtype"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parser


def run(args: argparse.Namespace) -> int:
    from workbench.engine.expr import InputError, parse_expression, parse_vector

    # Bad input fails here, before torch is imported.
    if len(parse_vector(args.x, "x")) != len(parse_vector(args.z, "z")):
        raise InputError("x and z need the same number of elements")
    parse_expression(args.expr)
    # torch costs 1-2 s to import: only when the command runs.
    from workbench.engine.autograd_demo import trace_expression

    trace = trace_expression(args.x, args.z, args.expr, args.dtype)
    if args.json:
        emit_json(trace.to_dict())
    else:
        render(trace)
    return 0


def _vec(values: tuple[float, ...] | None, digits: int = 4) -> str:
    from workbench.engine.export import format_values

    return format_values(values, digits)


def render(trace: AutogradTrace) -> None:
    """The rich display: graph tree, forward and backward tables, comparison, notes."""
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    from workbench.engine.autograd_demo import grad_label

    console = out_console
    y_text = f"mean({trace.expression})" if trace.reduced else trace.expression
    console.print(
        Text.assemble(
            ("y = ", "bold"),
            (y_text, "bold cyan"),
            f"   x = {_vec(trace.x, 6)}",
            f"   z = {_vec(trace.z, 6)}   ({trace.dtype})",
        )
    )

    incoming: dict[str, list[str]] = {}
    for edge in trace.edges:
        incoming.setdefault(edge.target, []).append(edge.source)
    roles = {(e.source, e.target): e.role for e in trace.edges}

    def label(node_id: str, parent: str | None) -> Text:
        node = trace.node(node_id)
        role = roles.get((node_id, parent), "") if parent else ""
        text = Text()
        if role and role != "operand":
            text.append(f"{role}: ", style="dim")
        text.append(node.name, style="bold cyan" if node.kind != "constant" else "dim")
        text.append(f"  {node.kind}", style="magenta" if node.kind != "constant" else "dim")
        if node.value is not None:
            text.append(f"  value {_vec(node.value)}")
        if node.grad is not None:
            text.append(f"  grad {_vec(node.grad)}", style="green")
        return text

    tree = Tree(label(trace.output, None), guide_style="dim")

    def grow(branch: Tree, node_id: str, depth: int) -> None:
        for source in incoming.get(node_id, []):
            child = branch.add(label(source, node_id))
            if depth < 40:
                grow(child, source, depth + 1)

    grow(tree, trace.output, 0)
    console.print("\n[bold]The graph autograd built[/] (from y.grad_fn down next_functions)")
    console.print(tree)

    forward = Table(title="Forward pass", title_justify="left", show_lines=False)
    for column in ("#", "node", "kind", "equation", "value"):
        forward.add_column(column)
    for node in trace.forward:
        forward.add_row(
            str(node.index), Text(node.name), node.kind, Text(node.equation), _vec(node.value, 6)
        )
    console.print(forward)

    backward = Table(title="Backward pass", title_justify="left", show_lines=True)
    for column in ("#", "node", "upstream ∂y/∂node", "local derivative", "local", "accumulated"):
        backward.add_column(column)
    for step in trace.backward:
        for position, local in enumerate(step.locals):
            first = position == 0
            backward.add_row(
                str(step.index) if first else "",
                Text(f"{step.equation}\n{step.kind}") if first else Text(""),
                _vec(step.upstream) if first else "",
                Text(local.formula),
                _vec(local.local),
                Text(f"{grad_label(local.input_name)} = {_vec(local.accumulated)}"),
            )
    console.print(backward)

    check = trace.check
    table = Table(title="Hand-style (float64) against PyTorch", title_justify="left")
    for column in ("gradient", "hand", "PyTorch", "max rel diff", "status"):
        table.add_column(column)
    for row in check.rows:
        finite = [d for d in row.rel_diff if d == d]
        status = "ok" if all(s == "ok" for s in row.status) else ", ".join(row.status)
        table.add_row(
            Text(grad_label(row.name)),
            _vec(row.hand, 8),
            _vec(row.torch, 8),
            f"{max(finite, default=0.0):.2e}",
            Text(status, style="green" if status == "ok" else "yellow"),
        )
    console.print(table)
    verdict = "[green]agree[/]" if check.ok else "[red]DIFFER[/]"
    console.print(
        f"largest relative difference {check.max_rel_diff:.3e} "
        f"(rtol {check.rtol:g}, atol {check.atol:g}): {verdict}"
    )
    console.print(Text(check.note, style="dim"))
    from workbench.engine.export.autograd import zero_exponent_notes

    notes = [*trace.notes, *zero_exponent_notes(trace)]
    if notes:
        console.print("\n[bold]Notes[/]")
        for note in notes:
            console.print(Text(f"• {note}"))
    if trace.issues:
        console.print("\n[bold yellow]Undefined or non-differentiable points[/]")
        for issue in trace.issues:
            console.print(Text(f"• [{issue.severity}] {issue.text}"))
