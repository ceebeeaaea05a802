"""The results of a Q1 trace: frozen dataclasses with ``to_dict()``, and small readers.

JSON-ready (``nan``/``inf`` become the strings ``"nan"``, ``"inf"``, ``"-inf"``); the CLI, the
screen and the exports only render these.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from workbench.engine.autograd.tree import is_program
from workbench.engine.jsonable import JsonRecord

Values = tuple[float, ...]


@dataclass(frozen=True)
class GraphNode(JsonRecord):
    """One node of the traced graph.

    ``kind`` is ``"leaf"`` (an input tensor, ``AccumulateGrad`` in autograd), ``"constant"``
    (a number autograd never sees), or the class of the node's ``grad_fn`` (``AddBackward0``,
    ``PowBackward1`` …, also for ``"internal"`` nodes that PyTorch adds inside one operation).
    ``value`` is PyTorch's forward value and ``grad`` its gradient ∂y/∂node (``retain_grad``);
    ``hand_value``/``hand_grad`` are this module's own float64 numbers. Scalars are one-element
    tuples with ``scalar`` set.
    """

    id: str
    name: str
    kind: str
    op: str
    expression: str
    equation: str
    inputs: tuple[str, ...]
    scalar: bool
    value: Values | None
    hand_value: Values | None
    grad: Values | None
    hand_grad: Values | None
    note: str = ""


@dataclass(frozen=True)
class GraphEdge(JsonRecord):
    """``source`` feeds ``target``; ``in_autograd`` is False for constants (no graph node)."""

    source: str
    target: str
    slot: int
    role: str
    in_autograd: bool


@dataclass(frozen=True)
class ForwardStep(JsonRecord):
    """Forward pass, topological order: the node's equation and value (PyTorch's)."""

    index: int
    node: str
    name: str
    kind: str
    equation: str
    value: Values
    note: str = ""


@dataclass(frozen=True)
class LocalDerivative(JsonRecord):
    """One input of a backward step: local derivative, its contribution, the running sum."""

    input: str
    input_name: str
    formula: str
    local: Values
    contribution: Values
    accumulated: Values
    note: str = ""


@dataclass(frozen=True)
class BackwardStep(JsonRecord):
    """Backward pass, reverse topological order: upstream ∂y/∂node, then one entry per input."""

    index: int
    node: str
    name: str
    kind: str
    equation: str
    upstream: Values
    locals: tuple[LocalDerivative, ...]


@dataclass(frozen=True)
class Issue(JsonRecord):
    """A point where the derivative is undefined (``severity == "undefined"``) or where the
    function has a kink and PyTorch picks a one-sided value (``"kink"``)."""

    node: str
    name: str
    element: int
    severity: str
    message: str
    torch_value: float
    torch_grads: tuple[tuple[str, float], ...]
    text: str = ""


@dataclass(frozen=True)
class GradRow(JsonRecord):
    """Hand-style (float64) against PyTorch for one tensor's gradient, per element."""

    node: str
    name: str
    hand: Values
    torch: Values
    rel_diff: Values
    status: tuple[str, ...]


@dataclass(frozen=True)
class Check(JsonRecord):
    """The comparison: rows for x, z and every retained intermediate gradient."""

    rows: tuple[GradRow, ...]
    rtol: float
    atol: float
    max_rel_diff: float
    ok: bool
    note: str


@dataclass(frozen=True)
class AutogradTrace(JsonRecord):
    """Everything the stepper shows; the TUI and the exports only render it."""

    expression: str
    source: str
    x: Values
    z: Values
    dtype: str
    reduced: bool
    output: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    forward: tuple[ForwardStep, ...]
    backward: tuple[BackwardStep, ...]
    check: Check
    issues: tuple[Issue, ...]
    notes: tuple[str, ...]
    x_grad: Values
    z_grad: Values
    hand_x_grad: Values
    hand_z_grad: Values

    def node(self, node_id: str) -> GraphNode:
        """The node with id ``node_id``."""
        for candidate in self.nodes:
            if candidate.id == node_id:
                return candidate
        raise KeyError(node_id)

    def by_name(self, name: str) -> GraphNode:
        """The first node whose display name is ``name`` (``"a"``, ``"b"``, ``"x"`` …)."""
        for candidate in self.nodes:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


def largest_finite(values: Iterable[float]) -> float:
    """The largest finite value (0 when there is none): a relative difference that is nan or
    infinite says "undefined", not "large"."""
    return max((value for value in values if math.isfinite(value)), default=0.0)


def heading(trace: AutogradTrace) -> str:
    """What y is, as one line: ``y = mean(<expression>)``, or the program itself (with the
    ``y = c.mean()`` the workbench added when its result is a vector)."""
    if is_program(trace.expression):
        if not trace.reduced:
            return trace.expression
        root = trace.node(trace.output)
        reduced = trace.node(root.inputs[0]).name
        return f"{trace.expression.rstrip('; ')}; {root.name} = {reduced}.mean()"
    return f"y = mean({trace.expression})" if trace.reduced else f"y = {trace.expression}"
