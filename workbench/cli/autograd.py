"""``workbench autograd``: Q1's computation graph, forward and backward steps, and the check."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from workbench.cli.common import HelpFormatter, emit_json, out_console

if TYPE_CHECKING:
    from workbench.engine.autograd import AutogradTrace

HELP = "Q1: trace autograd's graph, step through it by hand, compare with PyTorch"
DESCRIPTION = """\
Build y from x and z with PyTorch (by default the assignment's own code,
a = x + 10%4 + z; b = a ** (4*x); c = (b + 3)*5, with y = c.mean()), trace the graph
autograd really built from y.grad_fn, list the forward steps and the backward steps (local
derivative as a formula and as numbers), and compare a float64 hand-style chain rule with
PyTorch's grads.

--expr takes one expression or a short program: assignments separated by ';' or newlines,
pasted as in the assignment (tensor methods such as c.mean(), an optional torch. prefix,
a final y.backward()). Numbers, x, z, the names assigned, + - * / ** %, unary minus and
mean sum exp log sin cos tanh sigmoid relu; a vector result is reduced with mean.
Negative numbers need no '=' (--z -1,1,-1,0 works); an expression that starts
with '-' does: --expr=-x*z.
"""

FLAGS = {"x": "--x", "z": "--z", "expr": "--expr", "dtype": "--dtype"}
"""The option that sets each field the engine may report a problem with."""


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
        default=None,
        help="the expression or program over x and z (default: the assignment's code)",
    )
    parser.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32", help="PyTorch's dtype"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parser


def run(args: argparse.Namespace) -> int:
    from workbench.engine.autograd import DEFAULT_EXPRESSION, InputError, check_inputs
    from workbench.errors import UsageError

    expression = DEFAULT_EXPRESSION if args.expr is None else args.expr
    try:
        # Bad input fails here, before torch is imported (1-2 s).
        check_inputs(args.x, args.z, expression, args.dtype)
        from workbench.engine.autograd.trace import trace_expression

        trace = trace_expression(args.x, args.z, expression, args.dtype)
    except InputError as error:
        raise UsageError(f"{FLAGS.get(error.field, error.field)}: {error.message}") from None
    if args.json:
        emit_json(trace.to_dict())
    else:
        render(trace)
    return 0


def _vec(values: tuple[float, ...] | None, digits: int = 4) -> str:
    from workbench.engine.export import format_values

    return format_values(values, digits)


def render(trace: AutogradTrace) -> None:
    """The rich display: graph tree, forward and backward tables, then the comparison with
    its notes and issues as the Autograd screen shows it."""
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    from workbench.engine.autograd import grad_label, heading
    from workbench.render.autograd import comparison_panel

    console = out_console
    console.print(
        Text.assemble(
            (heading(trace), "bold cyan"),
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

    console.print()
    console.print(comparison_panel(trace))
