"""The graph autograd really built, read back from ``y.grad_fn`` down ``next_functions``.

Each operation record is matched to its ``grad_fn``; a leaf's ``AccumulateGrad`` to its input;
any other ``grad_fn`` met on the way is a node PyTorch added inside one operation (``2 / x``
is ``ReciprocalBackward0`` then ``MulBackward0``) and is kept as an ``"internal"`` node.
Constants get an edge marked ``in_autograd=False``: autograd never saw them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from workbench.engine.autograd.backward import equation
from workbench.engine.autograd.build import Graph, Record, values
from workbench.engine.autograd.model import ForwardStep, GraphEdge, GraphNode
from workbench.engine.autograd.ops import OPS
from workbench.engine.autograd.tree import Num, expression_source


class _Walker:
    """Edges from ``next_functions``, with the internal nodes found on the way."""

    def __init__(self, graph: Graph, leaves: dict[str, torch.Tensor]) -> None:
        self.leaves = leaves
        self.fn_to_node: dict[Any, str] = {}
        for record in graph.ops:
            assert record.tensor is not None
            self.fn_to_node[record.tensor.grad_fn] = record.id
        self.edges: list[GraphEdge] = []
        self.internal: dict[Any, str] = {}
        self.internal_nodes: list[GraphNode] = []

    def source_of(self, fn: Any) -> str | None:
        """The node id a ``grad_fn`` stands for (None for a constant's empty slot)."""
        if fn is None:
            return None
        variable = getattr(fn, "variable", None)
        if variable is not None:
            for name, leaf in self.leaves.items():
                if variable is leaf:
                    return name
        if fn in self.fn_to_node:
            return self.fn_to_node[fn]
        if fn not in self.internal:
            self._add_internal(fn)
        return self.internal[fn]

    def _add_internal(self, fn: Any) -> None:
        internal_id = f"i{len(self.internal) + 1}"
        self.internal[fn] = internal_id
        kind = type(fn).__name__
        inner = [self.source_of(child) for child, _ in fn.next_functions]
        for slot, child_id in enumerate(inner):
            if child_id is not None:
                self.edges.append(GraphEdge(child_id, internal_id, slot, "", True))
        self.internal_nodes.append(
            GraphNode(
                id=internal_id,
                name=kind,
                kind=kind,
                op="internal",
                expression="",
                equation="",
                inputs=tuple(i for i in inner if i is not None),
                scalar=False,
                value=None,
                hand_value=None,
                grad=None,
                hand_grad=None,
                note="a node PyTorch adds inside one operation of the expression",
            )
        )

    def walk(self, graph: Graph, record: Record) -> None:
        """The edges into ``record``: autograd's, then the constants'."""
        assert record.tensor is not None and record.tensor.grad_fn is not None
        roles = OPS[record.op].roles
        pair = len(record.inputs) == 2
        for slot, (child, _) in enumerate(record.tensor.grad_fn.next_functions):
            child_id = self.source_of(child)
            if child_id is None:
                continue
            if record.inputs.count(child_id) == 1:
                role = roles[record.inputs.index(child_id)] if pair else "operand"
            elif pair and child_id in record.inputs:
                role = roles[min(slot, 1)]
            else:
                role = "operand"
            self.edges.append(GraphEdge(child_id, record.id, slot, role, True))
        for slot, operand in enumerate(graph.inputs_of(record)):
            if operand.op == "constant":
                role = roles[slot] if pair else "operand"
                self.edges.append(GraphEdge(operand.id, record.id, slot, role, False))


def autograd_graph(
    graph: Graph,
    leaves: dict[str, torch.Tensor],
    grads: dict[str, np.ndarray | None],
    hand_grads: dict[str, np.ndarray],
) -> tuple[list[GraphNode], list[GraphEdge]]:
    """Nodes (the program's, then PyTorch's internal ones) and edges, with values and grads."""
    walker = _Walker(graph, leaves)
    for record in graph.ops:
        walker.walk(graph, record)
    nodes = [_node(graph, record, grads, hand_grads) for record in graph.records.values()]
    return nodes + walker.internal_nodes, walker.edges


def _node(
    graph: Graph,
    record: Record,
    grads: dict[str, np.ndarray | None],
    hand_grads: dict[str, np.ndarray],
) -> GraphNode:
    is_const = record.op == "constant"
    note = ""
    if is_const:
        assert isinstance(record.expr, Num)
        if record.expr.folded:
            note = (
                f"`{record.expr.source}` is folded to {record.name} by Python before "
                "autograd sees it"
            )
        else:
            note = "a Python number: autograd records no node for it"
    tensor_value = None if record.tensor is None else record.tensor.detach().double()
    grad_value = grads.get(record.id)
    if is_const:
        kind = "constant"
    elif record.op == "input":
        kind = "leaf"
    else:
        kind = type(getattr(record.tensor, "grad_fn", None)).__name__
    return GraphNode(
        id=record.id,
        name=record.name,
        kind=kind,
        op=record.op,
        expression=expression_source(record.expr),
        equation=equation(record, graph),
        inputs=tuple(record.inputs),
        scalar=record.scalar,
        value=values(record.hand if tensor_value is None else tensor_value.numpy()),
        hand_value=values(record.hand),
        grad=None if grad_value is None else values(grad_value),
        hand_grad=None
        if is_const
        else values(hand_grads.get(record.id, np.zeros_like(record.hand))),
        note=note,
    )


def forward_steps(nodes: list[GraphNode]) -> list[ForwardStep]:
    """The forward pass in topological order (internal nodes have no step of their own)."""
    steps: list[ForwardStep] = []
    for node in nodes:
        if node.op == "internal":
            continue
        assert node.value is not None
        steps.append(
            ForwardStep(
                len(steps), node.id, node.name, node.kind, node.equation, node.value, node.note
            )
        )
    return steps
