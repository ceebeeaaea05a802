"""Q1's pipeline: parse, build with PyTorch, step through by hand, read autograd's graph, check.

:func:`trace_expression` builds the program (by default the assignment's
``a = x + 10%4 + z; b = a ** (4*x); c = (b + 3)*5``, whose ``c`` is reduced with mean) with
PyTorch, keeps every intermediate tensor (``retain_grad``), calls ``y.backward()`` and walks
``y.grad_fn.next_functions`` to recover the graph autograd built. Independently, it works the
same chain rule with the op table in float64 (forward values, local derivatives as formulas and
numbers, accumulation at the leaves) and compares the result with PyTorch's gradients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from workbench.engine.autograd.backward import hand_backward
from workbench.engine.autograd.build import (
    build_graph,
    name_records,
    run_hand,
    run_torch,
    torch_grads,
    values,
)
from workbench.engine.autograd.check import compare, find_issues
from workbench.engine.autograd.graph import autograd_graph, forward_steps
from workbench.engine.autograd.inputs import (
    DEFAULT_EXPRESSION,
    DEFAULT_X,
    DEFAULT_Z,
    check_inputs,
)
from workbench.engine.autograd.model import AutogradTrace
from workbench.engine.autograd.notes import trace_notes


def trace_expression(
    x: Sequence[float] | str = DEFAULT_X,
    z: Sequence[float] | str = DEFAULT_Z,
    expression: str = DEFAULT_EXPRESSION,
    dtype: str = "float32",
) -> AutogradTrace:
    """Build ``expression`` (one expression or a short program) over ``x`` and ``z`` with
    PyTorch, trace autograd's graph, step through it by hand in float64 and compare.
    Raises :class:`~workbench.engine.autograd.parse.InputError` (with its field) on bad input."""
    xs, zs, program = check_inputs(x, z, expression, dtype)
    graph, reduced = build_graph(program.output)
    name_records(graph)
    leaves = run_torch(graph, xs, zs, dtype)
    run_hand(graph, leaves)
    hand = hand_backward(graph)
    grads = torch_grads(graph)
    nodes, edges = autograd_graph(graph, leaves, grads, hand.grads)
    issues = find_issues(graph, grads)

    return AutogradTrace(
        expression=expression.strip(),
        source=program.source,
        x=xs,
        z=zs,
        dtype=dtype,
        reduced=reduced,
        output=graph.root,
        nodes=tuple(nodes),
        edges=tuple(edges),
        forward=tuple(forward_steps(nodes)),
        backward=tuple(hand.steps),
        check=compare(graph, hand.grads, grads, issues, dtype),
        issues=tuple(issues),
        notes=tuple(trace_notes(graph, reduced, len(xs), hand.contributions, issues)),
        x_grad=_leaf_grad(grads, "x", len(xs)),
        z_grad=_leaf_grad(grads, "z", len(xs)),
        hand_x_grad=_leaf_grad(hand.grads, "x", len(xs)),
        hand_z_grad=_leaf_grad(hand.grads, "z", len(xs)),
    )


def _leaf_grad(grads: Mapping[str, np.ndarray | None], leaf: str, size: int) -> tuple[float, ...]:
    """A leaf's gradient; zeros where it does not reach y (PyTorch leaves it None)."""
    value = grads.get(leaf)
    return values(np.zeros(size) if value is None else value)
