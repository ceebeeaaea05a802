"""The program as records in topological order, named, run by PyTorch and by hand.

:class:`Graph` turns the parsed program into one :class:`Record` per node (a name used twice is
one record), :func:`name_records` gives each its display name, :func:`run_torch` builds it with
PyTorch (every intermediate ``retain_grad``) and calls ``backward``, and :func:`run_hand` computes
the same forward values in float64 with the op table's numpy functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from workbench.engine.autograd.naming import format_number
from workbench.engine.autograd.ops import OPS
from workbench.engine.autograd.tree import Apply, Expr, Num, Var

MAX_NAME = 10
"""An unnamed node is named by its rendering (``x + 2``) up to this many characters, else
``t1``, ``t2`` …"""


@dataclass
class Record:
    """One node while it is traced: its operands, PyTorch's tensor and the float64 value."""

    id: str
    expr: Expr
    op: str
    """A key of :data:`~workbench.engine.autograd.ops.OPS`, ``"input"`` or ``"constant"``."""
    inputs: list[str]
    """Operand node ids, in order (constants included)."""
    constant: float | None = None
    name: str = ""
    scalar: bool = False
    tensor: torch.Tensor | None = None
    hand: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def is_op(self) -> bool:
        """Whether the node is an operation (not an input or a constant)."""
        return self.op not in ("input", "constant")


class Graph:
    """Records of ``root`` and everything it depends on, in post-order (a topological order);
    ids are ``x``, ``z`` and ``n1``, ``n2`` … in that order."""

    def __init__(self, root: Expr) -> None:
        self.records: dict[str, Record] = {}
        self._ids: dict[int, str] = {}
        self.counter = 0
        self.root = self._add(root)

    @property
    def ops(self) -> list[Record]:
        """The operation records, in topological order."""
        return [record for record in self.records.values() if record.is_op]

    def inputs_of(self, record: Record) -> list[Record]:
        """The operand records of ``record``, in order."""
        return [self.records[i] for i in record.inputs]

    def _add(self, expr: Expr) -> str:
        if isinstance(expr, Var):
            if expr.name not in self.records:
                self.records[expr.name] = Record(expr.name, expr, "input", [], name=expr.name)
            return expr.name
        known = self._ids.get(id(expr))
        if known is not None:
            return known
        inputs = [self._add(arg) for arg in expr.args] if isinstance(expr, Apply) else []
        self.counter += 1
        node_id = f"n{self.counter}"
        if isinstance(expr, Num):
            record = Record(node_id, expr, "constant", inputs, constant=expr.value, scalar=True)
            record.name = format_number(expr.value)
        else:
            record = Record(node_id, expr, expr.op, inputs)
            record.scalar = OPS[expr.op].reduces or all(self.records[i].scalar for i in inputs)
        self.records[node_id] = record
        self._ids[id(expr)] = node_id
        return node_id


def build_graph(parsed: Expr) -> tuple[Graph, bool]:
    """The graph of ``parsed``, reduced with ``mean`` when its result is a vector (as the
    assignment's ``y = c.mean()``); and whether it was."""
    graph = Graph(parsed)
    if graph.records[graph.root].scalar:
        return graph, False
    return Graph(Apply("mean", (parsed,))), True


def name_records(graph: Graph) -> None:
    """Display names: the student's own (``a``), ``y`` for an unnamed output, else the node's
    rendering when short (``x + 2``, ``4x``), else ``t1``, ``t2`` …"""
    taken = {r.expr.name for r in graph.records.values() if isinstance(r.expr, Apply)}
    temp = 0
    for record in graph.ops:
        assert isinstance(record.expr, Apply)
        own = record.expr.name
        if record.id == graph.root and not own and "y" not in taken:
            own = "y"
        if own:
            record.name = own
            continue
        candidate = OPS[record.op].render([r.name for r in graph.inputs_of(record)])
        if len(candidate) <= MAX_NAME:
            record.name = candidate
            continue
        temp += 1
        while f"t{temp}" in taken:
            temp += 1
        record.name = f"t{temp}"


def run_torch(
    graph: Graph, xs: tuple[float, ...], zs: tuple[float, ...], dtype: str
) -> dict[str, torch.Tensor]:
    """Build every node with PyTorch in ``dtype``, retain every gradient, call
    ``y.backward()``; returns the leaf tensors ``{"x": …, "z": …}``."""
    torch_dtype = torch.float32 if dtype == "float32" else torch.float64
    leaves = {
        "x": torch.tensor(xs, dtype=torch_dtype, requires_grad=True),
        "z": torch.tensor(zs, dtype=torch_dtype, requires_grad=True),
    }
    for record in graph.records.values():
        if record.op == "input":
            record.tensor = leaves[record.id]
        elif record.is_op:
            args: list[Any] = []
            for operand in graph.inputs_of(record):
                tensor = operand.tensor
                args.append(tensor if tensor is not None else float(operand.constant or 0.0))
            record.tensor = OPS[record.op].torch_fn(*args)
            record.tensor.retain_grad()
    output = graph.records[graph.root].tensor
    assert output is not None
    output.backward()
    return leaves


def run_hand(graph: Graph, leaves: dict[str, torch.Tensor]) -> None:
    """Forward values in float64 on the inputs PyTorch actually used (rounded to its dtype)."""
    for record in graph.records.values():
        if record.op == "input":
            record.hand = leaves[record.id].detach().double().numpy().copy()
        elif record.op == "constant":
            record.hand = np.asarray(float(record.constant or 0.0))
        else:
            with np.errstate(all="ignore"):
                record.hand = OPS[record.op].numpy_fn(*[r.hand for r in graph.inputs_of(record)])


def values(array: Any) -> tuple[float, ...]:
    """A flat tuple of Python floats (a scalar is one element)."""
    flat = np.asarray(array, dtype=np.float64).reshape(-1)
    return tuple(float(v) for v in flat)


def torch_grads(graph: Graph) -> dict[str, np.ndarray | None]:
    """PyTorch's gradient of every node that has a tensor, in float64 (None where autograd
    left it None)."""
    grads: dict[str, np.ndarray | None] = {}
    for record in graph.records.values():
        if record.tensor is None:
            continue
        grad = record.tensor.grad
        grads[record.id] = None if grad is None else grad.detach().double().numpy()
    return grads
