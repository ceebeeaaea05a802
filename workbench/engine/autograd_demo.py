"""Q1: trace the computation graph autograd really builds, and step through it by hand.

:func:`trace_expression` builds the expression (by default the assignment's
``y = ((((x + 10%4 + z) ** (4*x)) + 3) * 5).mean()``) with PyTorch from the whitelisted syntax
tree of :mod:`workbench.engine.expr`, keeps every intermediate tensor (``retain_grad``), calls
``y.backward()`` and walks ``y.grad_fn.next_functions`` to recover the graph autograd built.
Independently, it evaluates the same chain rule with its own code in float64 (forward values,
local derivatives as formulas and numbers, accumulation at the leaves) and compares the result
with PyTorch's gradients.

Everything is returned as frozen dataclasses with ``to_dict()`` (JSON-ready: ``nan``/``inf``
become the strings ``"nan"``, ``"inf"``, ``"-inf"``); nothing here prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from workbench.engine.expr import (
    ASSIGNMENT_EXPRESSION,
    MAX_ELEMENTS,
    REDUCTIONS,
    BinOp,
    Call,
    Expr,
    InputError,
    Num,
    Unary,
    Var,
    format_number,
    is_assignment,
    parse_expression,
    parse_vector,
    to_source,
)
from workbench.engine.jsonable import JsonRecord

__all__ = [
    "DEFAULT_EXPRESSION",
    "DEFAULT_X",
    "DEFAULT_Z",
    "DTYPES",
    "MAX_ELEMENTS",
    "TOLERANCES",
    "AutogradTrace",
    "BackwardStep",
    "Check",
    "ForwardStep",
    "GradRow",
    "GraphEdge",
    "GraphNode",
    "InputError",
    "Issue",
    "LocalDerivative",
    "grad_label",
    "parse_vector",
    "trace_expression",
]

DEFAULT_X: tuple[float, ...] = (0.1, 0.0, 0.2, 1.0)
DEFAULT_Z: tuple[float, ...] = (-1.0, 1.0, -1.0, 0.0)
DEFAULT_EXPRESSION = ASSIGNMENT_EXPRESSION
DTYPES: tuple[str, ...] = ("float32", "float64")

TOLERANCES: dict[str, tuple[float, float]] = {"float32": (1e-4, 1e-6), "float64": (1e-9, 1e-12)}
"""(rtol, atol) of the hand-vs-autograd comparison, by PyTorch's dtype: an element agrees when
``|hand - torch| <= atol + rtol * max(|hand|, |torch|)``."""

_MAX_PATHS = 16
_ROLES: dict[str, tuple[str, str]] = {
    "**": ("base", "exponent"),
    "/": ("numerator", "denominator"),
    "%": ("dividend", "divisor"),
    "-": ("minuend", "subtrahend"),
    "+": ("left operand", "right operand"),
    "*": ("left factor", "right factor"),
}
_SYMBOLS = {"+": "+", "-": "−", "*": "·", "/": "/", "%": "%", "**": "^"}


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


# --------------------------------------------------------------------------- inputs


# --------------------------------------------------------------------------- building


@dataclass
class _Record:
    id: str
    expr: Expr
    op: str
    inputs: list[str]  # operand node ids, in order (constants included)
    constant: float | None = None
    name: str = ""
    scalar: bool = False
    tensor: torch.Tensor | None = None
    hand: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _op_of(expr: Expr) -> str:
    if isinstance(expr, BinOp):
        return expr.op
    if isinstance(expr, Unary):
        return "neg"
    if isinstance(expr, Call):
        return expr.func
    if isinstance(expr, Num):
        return "constant"
    return "input"


class _Builder:
    def __init__(self, root: Expr) -> None:
        self.records: dict[str, _Record] = {}
        self.counter = 0
        self.root = self._add(root)

    def _add(self, expr: Expr) -> str:
        if isinstance(expr, Var):
            if expr.name not in self.records:
                self.records[expr.name] = _Record(expr.name, expr, "input", [], name=expr.name)
            return expr.name
        if isinstance(expr, Num):
            inputs: list[str] = []
        elif isinstance(expr, BinOp):
            inputs = [self._add(expr.left), self._add(expr.right)]
        elif isinstance(expr, Unary):
            inputs = [self._add(expr.operand)]
        else:
            inputs = [self._add(expr.arg)]
        self.counter += 1
        node_id = f"n{self.counter}"
        record = _Record(node_id, expr, _op_of(expr), inputs)
        if isinstance(expr, Num):
            record.constant = expr.value
            record.scalar = True
            record.name = format_number(expr.value)
        elif isinstance(expr, Call) and expr.func in REDUCTIONS:
            record.scalar = True
        else:
            record.scalar = all(self.records[i].scalar for i in inputs)
        self.records[node_id] = record
        return node_id


def _strict_atom(text: str) -> bool:
    return text.isidentifier() or (_is_number(text) and not text.startswith("-"))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _wrap(text: str, strict: bool = False) -> str:
    if strict:
        return text if _strict_atom(text) else f"({text})"
    if (" " in text or text.startswith("-") or text.startswith("−")) and not (
        text.startswith("(") and text.endswith(")") and text.count("(") == 1
    ):
        return f"({text})"
    return text


def _render(op: str, operands: list[str]) -> str:
    """Math-style text of one operation over operand display names."""
    if op in _SYMBOLS and len(operands) == 2:
        u, v = operands
        if op == "*" and _is_number(u) and _strict_atom(v) and not _is_number(v):
            return f"{u}{v}"
        if op == "**":
            return f"{_wrap(u, strict=True)}^{_wrap(v, strict=True)}"
        if op == "*":
            return f"{_wrap(u)}·{_wrap(v)}"
        return f"{_wrap(u) if op != '+' else u} {_SYMBOLS[op]} {_wrap(v)}"
    if op == "neg":
        return f"−{_wrap(operands[0], strict=True)}"
    return f"{op}({operands[0]})"


def grad_label(name: str) -> str:
    """``∂y/∂name`` with parentheses around a composite name: ``∂y/∂(x + 2)``."""
    return f"∂y/∂{_wrap(name, strict=True)}"


def _partial(w: str, u: str) -> str:
    return f"∂{_wrap(w, strict=True)}/∂{_wrap(u, strict=True)}"


# --------------------------------------------------------------------------- torch side


def _torch_apply(op: str, args: list[torch.Tensor | float], dtype: torch.dtype) -> torch.Tensor:
    if op in _SYMBOLS:
        u: Any
        v: Any
        u, v = args
        if op == "+":
            return u + v
        if op == "-":
            return u - v
        if op == "*":
            return u * v
        if op == "/":
            return u / v
        if op == "**":
            return u**v
        # `2 % x` has no derivative for the divisor in PyTorch's scalar overload: use a tensor.
        left = u if isinstance(u, torch.Tensor) else torch.tensor(u, dtype=dtype)
        return torch.remainder(left, v)
    (u,) = args
    assert isinstance(u, torch.Tensor)
    if op == "neg":
        return -u
    if op == "relu":
        return torch.relu(u)
    if op == "sigmoid":
        return torch.sigmoid(u)
    result: torch.Tensor = getattr(torch, op)(u)
    return result


def _values(array: Any) -> Values:
    flat = np.asarray(array, dtype=np.float64).reshape(-1)
    return tuple(float(v) for v in flat)


# --------------------------------------------------------------------------- hand side


def _hand_forward(op: str, args: list[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        if op in _SYMBOLS:
            u, v = args
            if op == "+":
                return u + v
            if op == "-":
                return u - v
            if op == "*":
                return u * v
            if op == "/":
                return u / v
            if op == "**":
                return np.power(u, v)
            return np.mod(u, v)
        (u,) = args
        if op == "neg":
            return -u
        if op == "exp":
            return np.exp(u)
        if op == "log":
            return np.log(u)
        if op == "sin":
            return np.sin(u)
        if op == "cos":
            return np.cos(u)
        if op == "tanh":
            return np.tanh(u)
        if op == "sigmoid":
            return 1.0 / (1.0 + np.exp(-u))
        if op == "relu":
            return np.maximum(u, 0.0)
        if op == "mean":
            return np.asarray(np.mean(u))
        return np.asarray(np.sum(u))


def _hand_local(
    op: str, slot: int, args: list[np.ndarray], out: np.ndarray, names: list[str], w: str
) -> tuple[str, np.ndarray]:
    """Formula text and per-element value of ∂out/∂args[slot] (shape of out, or of the input
    for reductions)."""
    with np.errstate(all="ignore"):
        if op in ("mean", "sum"):
            (u,) = args
            n = u.size
            if op == "mean":
                return f"1/n = 1/{n}", np.full(u.shape, 1.0 / n)
            return "1", np.ones(u.shape)
        ones = np.ones(out.shape)
        if op in _SYMBOLS:
            u, v = args
            un, vn = names
            if op == "+":
                return "1", ones
            if op == "-":
                return ("1", ones) if slot == 0 else ("−1", -ones)
            if op == "*":
                return (vn, v * ones) if slot == 0 else (un, u * ones)
            if op == "/":
                if slot == 0:
                    return f"1/{_wrap(vn)}", (1.0 / v) * ones
                return f"−{_wrap(un)}/{_wrap(vn, strict=True)}²", (-u / (v * v)) * ones
            if op == "**":
                if slot == 0:
                    if _is_number(vn):
                        text = f"{vn}·{_wrap(un, strict=True)}^{format_number(float(vn) - 1)}"
                    else:
                        text = f"{vn}·{_wrap(un, strict=True)}^({vn}−1)"
                    local = np.where(v == 0, 0.0, v * np.power(u, v - 1.0)) * ones
                    return text, np.where((u == 0) & (v == 0), np.nan, local)
                text = f"{_wrap(un, strict=True)}^{_wrap(vn, strict=True)}·ln {_wrap(un)}"
                local = np.where((u == 0) & (v > 0), 0.0, out * np.log(u)) * ones
                return text, np.where((u == 0) & (v == 0), np.nan, local)
            if slot == 0:
                return "1", ones
            # floor_divide rounds like Python and PyTorch (from fmod), not floor(u / v)
            return f"−floor({un}/{_wrap(vn)})", -np.floor_divide(u, v) * ones
        (u,) = args
        un = names[0]
        if op == "neg":
            return "−1", -ones
        if op == "exp":
            text = f"exp({un})"
            return (text if w == text else f"{text} = {w}"), out
        if op == "log":
            return f"1/{_wrap(un)}", 1.0 / u
        if op == "sin":
            return f"cos({un})", np.cos(u)
        if op == "cos":
            return f"−sin({un})", -np.sin(u)
        if op == "tanh":
            return f"1 − tanh²({un})", 1.0 - out * out
        if op == "sigmoid":
            return f"σ({un})·(1 − σ({un}))", out * (1.0 - out)
        return f"[{un} > 0]", (u > 0).astype(np.float64)


def _issues_for(
    record: _Record, args: list[np.ndarray], out: np.ndarray, needs: list[bool]
) -> list[tuple[int, str, str]]:
    """(element, severity, message) for each undefined or kinked point of one operation."""
    found: list[tuple[int, str, str]] = []
    op = record.op
    size = out.size

    def each(mask: np.ndarray) -> list[int]:
        return [int(i) for i in np.flatnonzero(np.broadcast_to(mask, out.shape).reshape(-1))]

    with np.errstate(all="ignore"):
        if op == "**":
            u, v = args
            for i in each((u < 0) & (v != np.round(v))):
                found.append(
                    (
                        i,
                        "undefined",
                        "negative base with a non-integer exponent: the power is not a real number",
                    )
                )
            for i in each((u == 0) & (v == 0)):
                found.append(
                    (
                        i,
                        "undefined",
                        "0**0: the value is taken as 1 but the "
                        "derivative is undefined (its limit depends on the direction)",
                    )
                )
            for i in each((u == 0) & (v < 0)):
                found.append((i, "undefined", "0 to a negative power: division by zero"))
            if needs[0]:
                for i in each((u == 0) & (v > 0) & (v < 1)):
                    found.append(
                        (
                            i,
                            "undefined",
                            "the derivative for the base, v·u^(v−1), "
                            "is infinite at base 0 with an exponent below 1",
                        )
                    )
            if needs[1]:
                for i in each((u < 0) & (v == np.round(v))):
                    found.append(
                        (
                            i,
                            "undefined",
                            "the derivative for the exponent, "
                            "u^v·ln u, needs the logarithm of a negative base",
                        )
                    )
        elif op == "log":
            (u,) = args
            for i in each(u < 0):
                found.append((i, "undefined", "log of a negative number is not real"))
            for i in each(u == 0):
                found.append((i, "undefined", "log(0) is −inf and its derivative 1/u is infinite"))
        elif op == "/":
            u, v = args
            for i in each(v == 0):
                found.append((i, "undefined", "division by zero"))
        elif op == "%":
            u, v = args
            for i in each(v == 0):
                found.append((i, "undefined", "remainder by zero"))
            exact = np.mod(u, np.where(v == 0, 1.0, v)) == 0
            for i in each((v != 0) & exact & needs[1]):
                found.append(
                    (
                        i,
                        "kink",
                        "the remainder jumps here (u/v is an integer): "
                        "PyTorch uses the one-sided derivative −floor(u/v)",
                    )
                )
        elif op == "relu":
            (u,) = args
            for i in each(u == 0):
                found.append(
                    (i, "kink", "relu has a kink at 0: PyTorch uses the derivative 0 there")
                )
    explained = {i for i, severity, _ in found if severity == "undefined"}
    for i in range(size):
        if not math.isfinite(float(out.reshape(-1)[i])) and i not in explained:
            all_finite = all(np.all(np.isfinite(a)) for a in args)
            if all_finite:
                found.append((i, "undefined", "the value overflows (too large for a float)"))
    return found


# --------------------------------------------------------------------------- the trace


def trace_expression(
    x: Sequence[float] | str = DEFAULT_X,
    z: Sequence[float] | str = DEFAULT_Z,
    expression: str = DEFAULT_EXPRESSION,
    dtype: str = "float32",
) -> AutogradTrace:
    """Build ``expression`` over ``x`` and ``z`` with PyTorch, trace autograd's graph, step
    through it by hand in float64 and compare. Raises a :class:`UsageError` on bad input."""
    xs = parse_vector(x, "x")
    zs = parse_vector(z, "z")
    if len(xs) != len(zs):
        raise InputError(f"x has {len(xs)} elements and z has {len(zs)}; give the same number")
    if dtype not in DTYPES:
        raise InputError(f"dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    parsed = parse_expression(expression)
    assignment = is_assignment(parsed)
    probe = _Builder(parsed)
    reduced = not probe.records[probe.root].scalar
    root_expr: Expr = Call("mean", parsed) if reduced else parsed
    builder = _Builder(root_expr)
    records = builder.records
    order = list(records)  # insertion order is a topological order (post-order)
    ops = [r for r in records.values() if r.op not in ("input", "constant")]
    n = len(xs)

    # --- names -------------------------------------------------------------------------
    special: dict[str, str] = {builder.root: "y"}
    if assignment:
        root = records[builder.root]
        c_id = root.inputs[0] if root.op == "mean" else builder.root
        b_id = records[records[c_id].inputs[0]].inputs[0]
        a_id = records[b_id].inputs[0]
        special.update({c_id: "c", b_id: "b", a_id: "a"})
        special[builder.root] = "y"
    temp = 0
    for node_id in order:
        record = records[node_id]
        if record.op in ("input", "constant"):
            continue
        if node_id in special:
            record.name = special[node_id]
            continue
        candidate = _render(record.op, [records[i].name for i in record.inputs])
        if len(candidate) <= 10:
            record.name = candidate
        else:
            temp += 1
            record.name = f"t{temp}"

    # --- PyTorch forward and backward --------------------------------------------------
    torch_dtype = torch.float32 if dtype == "float32" else torch.float64
    x_t = torch.tensor(xs, dtype=torch_dtype, requires_grad=True)
    z_t = torch.tensor(zs, dtype=torch_dtype, requires_grad=True)
    leaves = {"x": x_t, "z": z_t}
    for node_id in order:
        record = records[node_id]
        if record.op == "input":
            record.tensor = leaves[node_id]
        elif record.op != "constant":
            args: list[torch.Tensor | float] = []
            for i in record.inputs:
                tensor = records[i].tensor
                args.append(tensor if tensor is not None else float(records[i].constant or 0.0))
            record.tensor = _torch_apply(record.op, args, torch_dtype)
            record.tensor.retain_grad()
    y_t = records[builder.root].tensor
    assert y_t is not None
    y_t.backward()

    # --- hand forward (float64 on the inputs PyTorch actually used) ---------------------
    hand_inputs = {"x": x_t.detach().double().numpy(), "z": z_t.detach().double().numpy()}
    for node_id in order:
        record = records[node_id]
        if record.op == "input":
            record.hand = hand_inputs[node_id].copy()
        elif record.op == "constant":
            record.hand = np.asarray(float(record.constant or 0.0))
        else:
            record.hand = _hand_forward(record.op, [records[i].hand for i in record.inputs])

    # --- hand backward ------------------------------------------------------------------
    hand_grads: dict[str, np.ndarray] = {builder.root: np.ones(())}
    backward: list[BackwardStep] = []
    contributions: dict[str, list[tuple[str, np.ndarray]]] = {}
    for index, record in enumerate(reversed(ops)):
        upstream = hand_grads.get(record.id, np.zeros(record.hand.shape))
        operand_names = [records[i].name for i in record.inputs]
        operand_values = [records[i].hand for i in record.inputs]
        locals_: list[LocalDerivative] = []
        for slot, input_id in enumerate(record.inputs):
            operand = records[input_id]
            if operand.op == "constant":
                continue
            text, local = _hand_local(
                record.op, slot, operand_values, record.hand, operand_names, record.name
            )
            with np.errstate(all="ignore"):
                contribution = upstream * local
            note = ""
            if contribution.shape != operand.hand.shape:
                contribution = np.asarray(contribution.sum())
                note = f"{operand.name} is a scalar used for every element: contributions summed"
            previous = hand_grads.get(input_id)
            if previous is not None:
                note = (note + "; " if note else "") + (
                    f"{operand.name} is reached again: this adds to the gradient it already has"
                )
            with np.errstate(all="ignore"):
                total = contribution if previous is None else previous + contribution
            hand_grads[input_id] = total
            contributions.setdefault(input_id, []).append((record.id, contribution))
            locals_.append(
                LocalDerivative(
                    input=input_id,
                    input_name=operand.name,
                    formula=f"{_partial(record.name, operand.name)} = {text}",
                    local=_values(local),
                    contribution=_values(contribution),
                    accumulated=_values(total),
                    note=note,
                )
            )
        backward.append(
            BackwardStep(
                index=index,
                node=record.id,
                name=record.name,
                kind=type(record.tensor.grad_fn).__name__ if record.tensor is not None else "",
                equation=_equation(record, records),
                upstream=_values(upstream),
                locals=tuple(locals_),
            )
        )

    # --- the graph autograd built -------------------------------------------------------
    fn_to_node: dict[Any, str] = {}
    for record in ops:
        assert record.tensor is not None
        fn_to_node[record.tensor.grad_fn] = record.id
    nodes: list[GraphNode] = []
    edges: list[GraphEdge] = []
    internal: dict[Any, str] = {}
    internal_nodes: list[GraphNode] = []

    def source_of(fn: Any) -> str | None:
        if fn is None:
            return None
        variable = getattr(fn, "variable", None)
        if variable is not None:
            for name, leaf in leaves.items():
                if variable is leaf:
                    return name
        if fn in fn_to_node:
            return fn_to_node[fn]
        if fn not in internal:
            internal_id = f"i{len(internal) + 1}"
            internal[fn] = internal_id
            kind = type(fn).__name__
            inner = [source_of(child) for child, _ in fn.next_functions]
            for slot, child_id in enumerate(inner):
                if child_id is not None:
                    edges.append(GraphEdge(child_id, internal_id, slot, "", True))
            internal_nodes.append(
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
        return internal[fn]

    for record in ops:
        assert record.tensor is not None and record.tensor.grad_fn is not None
        roles = _ROLES.get(record.op, ("operand", "operand"))
        for slot, (child, _) in enumerate(record.tensor.grad_fn.next_functions):
            child_id = source_of(child)
            if child_id is None:
                continue
            if record.inputs.count(child_id) == 1:
                role = (
                    roles[record.inputs.index(child_id)] if len(record.inputs) == 2 else "operand"
                )
            elif len(record.inputs) == 2 and child_id in record.inputs:
                role = roles[min(slot, 1)]
            else:
                role = "operand"
            edges.append(GraphEdge(child_id, record.id, slot, role, True))
        for slot, input_id in enumerate(record.inputs):
            if records[input_id].op == "constant":
                role = roles[slot] if len(record.inputs) == 2 else "operand"
                edges.append(GraphEdge(input_id, record.id, slot, role, False))

    torch_grads: dict[str, np.ndarray | None] = {}
    for node_id in order:
        record = records[node_id]
        if record.tensor is None:
            continue
        grad = record.tensor.grad
        torch_grads[node_id] = None if grad is None else grad.detach().double().numpy()

    for node_id in order:
        record = records[node_id]
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
        grad_value = torch_grads.get(node_id)
        nodes.append(
            GraphNode(
                id=node_id,
                name=record.name,
                kind=(
                    "constant"
                    if is_const
                    else "leaf"
                    if record.op == "input"
                    else type(getattr(record.tensor, "grad_fn", None)).__name__
                ),
                op=record.op,
                expression=to_source(record.expr),
                equation=_equation(record, records),
                inputs=tuple(record.inputs),
                scalar=record.scalar,
                value=_values(record.hand if tensor_value is None else tensor_value.numpy()),
                hand_value=_values(record.hand),
                grad=None if grad_value is None else _values(grad_value),
                hand_grad=None
                if is_const
                else _values(hand_grads.get(node_id, np.zeros_like(record.hand))),
                note=note,
            )
        )
    nodes.extend(internal_nodes)

    # --- forward steps ------------------------------------------------------------------
    forward: list[ForwardStep] = []
    for node in nodes:
        if node.op == "internal":
            continue
        assert node.value is not None
        forward.append(
            ForwardStep(
                len(forward), node.id, node.name, node.kind, node.equation, node.value, node.note
            )
        )

    # --- issues -------------------------------------------------------------------------
    issues: list[Issue] = []
    for record in ops:
        needs = [records[i].op != "constant" for i in record.inputs]
        found = _issues_for(record, [records[i].hand for i in record.inputs], record.hand, needs)
        assert record.tensor is not None
        flat = record.tensor.detach().double().reshape(-1)
        for element, severity, message in found:
            grads: list[tuple[str, float]] = []
            for input_id in dict.fromkeys(record.inputs):
                input_grad = torch_grads.get(input_id)
                if input_grad is not None:
                    flat_grad = input_grad.reshape(-1)
                    pick = flat_grad[element] if int(flat_grad.size) > element else flat_grad[0]
                    grads.append((records[input_id].name, float(pick)))
            issues.append(
                Issue(
                    node=record.id,
                    name=record.name,
                    element=element,
                    severity=severity,
                    message=message,
                    torch_value=float(flat[min(element, flat.numel() - 1)]),
                    torch_grads=tuple(grads),
                    text=_issue_text(record.name, element, message, flat, grads),
                )
            )

    # --- comparison ---------------------------------------------------------------------
    rtol, atol = TOLERANCES[dtype]
    undefined = any(issue.severity == "undefined" for issue in issues)
    # Elements whose gradient passes through an undefined point are undefined, down to the
    # leaves (the gradient ∂y/∂node of the node itself, upstream of the point, is still fine).
    seeds: dict[str, set[int]] = {}
    for issue in issues:
        if issue.severity == "undefined":
            seeds.setdefault(issue.node, set()).add(issue.element)
    tainted: dict[str, set[int]] = {}
    for record in reversed(ops):
        marks = seeds.get(record.id, set()) | tainted.get(record.id, set())
        if not marks:
            continue
        for input_id in record.inputs:
            operand = records[input_id]
            if operand.op == "constant":
                continue
            if operand.scalar:
                spread = {0}
            elif record.scalar:
                spread = set(range(operand.hand.size))
            else:
                spread = {m for m in marks if m < operand.hand.size}
            tainted.setdefault(input_id, set()).update(spread)
    rows: list[GradRow] = []
    for node_id in ["x", "z", *[r.id for r in reversed(ops)]]:
        if node_id not in records:
            continue
        hand = hand_grads.get(node_id, np.zeros(records[node_id].hand.shape))
        torch_grad = torch_grads.get(node_id)
        torch_value = np.zeros(hand.shape) if torch_grad is None else torch_grad
        rows.append(
            _grad_row(
                node_id,
                records[node_id].name,
                hand,
                torch_value,
                rtol,
                atol,
                undefined,
                tainted.get(node_id, set()),
            )
        )
    finite = [
        d
        for row in rows
        for d, status in zip(row.rel_diff, row.status, strict=True)
        if status == "ok" and math.isfinite(d)
    ]
    max_rel = max(finite, default=0.0)
    ok = all(status != "differs" for row in rows for status in row.status)
    check_note = (
        f"PyTorch computed in {dtype}; the hand-style chain rule runs in float64 on the same "
        f"inputs ({'rounded to float32 first' if dtype == 'float32' else 'unchanged'}). "
        + (
            "float32 keeps about 7 significant digits, so the two differ in the last digits; "
            if dtype == "float32"
            else "Both are float64, so they agree to about 15 digits; "
        )
        + f"an element agrees when |hand − torch| ≤ {atol:g} + {rtol:g}·max(|hand|, |torch|)."
    )
    check = Check(tuple(rows), rtol, atol, max_rel, ok, check_note)

    # --- notes --------------------------------------------------------------------------
    notes: list[str] = []
    for record in records.values():
        if record.op == "constant" and isinstance(record.expr, Num) and record.expr.folded:
            notes.append(
                f"`{record.expr.source}` is folded to the constant {record.name} by Python "
                "before autograd sees it (operator precedence: in x + 10%4 + z the % binds "
                f"tighter, so it is x + ({record.expr.source}) + z); autograd only receives "
                "the number, so the graph has no node for it (a None slot in next_functions)."
                if assignment
                else f"`{record.expr.source}` is folded to the constant {record.name} before "
                "autograd sees it; the graph has no node for it."
            )
    if reduced:
        notes.append(
            f"The expression gives a vector of {n} elements, so it is reduced with mean, as the "
            f"assignment's y = c.mean(); ∂y/∂(each element) = 1/{n}."
        )
    for leaf in ("x", "z"):
        if leaf not in records:
            notes.append(
                f"{leaf} does not reach y: PyTorch leaves {leaf}.grad as None (shown as zeros)."
            )
            continue
        notes.extend(_path_notes(leaf, records, builder.root, contributions))
    if issues:
        notes.append(
            f"{sum(1 for i in issues if i.severity == 'undefined')} undefined and "
            f"{sum(1 for i in issues if i.severity == 'kink')} kinked point(s): see the issues."
        )

    def leaf_grad(name: str, grads: dict[str, Any]) -> Values:
        value = grads.get(name)
        return _values(np.zeros(n) if value is None else value)

    return AutogradTrace(
        expression=expression.strip(),
        source=to_source(parsed),
        x=xs,
        z=zs,
        dtype=dtype,
        reduced=reduced,
        output=builder.root,
        nodes=tuple(nodes),
        edges=tuple(edges),
        forward=tuple(forward),
        backward=tuple(backward),
        check=check,
        issues=tuple(issues),
        notes=tuple(notes),
        x_grad=leaf_grad("x", torch_grads),
        z_grad=leaf_grad("z", torch_grads),
        hand_x_grad=leaf_grad("x", hand_grads),
        hand_z_grad=leaf_grad("z", hand_grads),
    )


def _issue_text(
    name: str, element: int, message: str, flat: torch.Tensor, grads: list[tuple[str, float]]
) -> str:
    value = float(flat[min(element, flat.numel() - 1)])
    returned = ", ".join(f"∂y/∂{_wrap(g, strict=True)} = {v:.6g}" for g, v in grads)
    return (
        f"{name}, element {element}: {message}. PyTorch returned {name} = {value:.6g}"
        + (f" and {returned}" if returned else "")
        + "."
    )


def _equation(record: _Record, records: dict[str, _Record]) -> str:
    if record.op == "input":
        return f"{record.name} = input (requires_grad)"
    if record.op == "constant":
        assert isinstance(record.expr, Num)
        if record.expr.folded:
            return f"{record.name} = {record.expr.source} (folded by Python)"
        return f"{record.name} = constant"
    text = _render(record.op, [records[i].name for i in record.inputs])
    return text if text == record.name else f"{record.name} = {text}"


def _grad_row(
    node_id: str,
    name: str,
    hand: np.ndarray,
    torch_grad: np.ndarray,
    rtol: float,
    atol: float,
    undefined: bool,
    tainted: set[int],
) -> GradRow:
    hand_flat = np.asarray(hand, dtype=np.float64).reshape(-1)
    torch_flat = np.asarray(torch_grad, dtype=np.float64).reshape(-1)
    diffs: list[float] = []
    statuses: list[str] = []
    for index, (h, t) in enumerate(zip(hand_flat, torch_flat, strict=True)):
        if index in tainted:
            scale = max(abs(h), abs(t))
            finite = math.isfinite(h) and math.isfinite(t)
            diffs.append(float(abs(h - t) / scale) if finite and scale else math.nan)
            statuses.append("undefined")
        elif math.isfinite(h) and math.isfinite(t):
            scale = max(abs(h), abs(t))
            diffs.append(0.0 if scale == 0 else float(abs(h - t) / scale))
            close = abs(h - t) <= atol + rtol * scale
            statuses.append("ok" if close else "undefined" if undefined else "differs")
        else:
            same = (math.isnan(h) and math.isnan(t)) or h == t
            diffs.append(0.0 if same and not math.isnan(h) else math.nan)
            statuses.append("undefined" if undefined else "ok" if same else "differs")
    return GradRow(
        node_id, name, _values(hand_flat), _values(torch_flat), tuple(diffs), tuple(statuses)
    )


def _path_notes(
    leaf: str,
    records: dict[str, _Record],
    root: str,
    contributions: dict[str, list[tuple[str, np.ndarray]]],
) -> list[str]:
    consumers: dict[str, list[tuple[str, int]]] = {}
    for record in records.values():
        for slot, input_id in enumerate(record.inputs):
            consumers.setdefault(input_id, []).append((record.id, slot))
    paths: list[list[str]] = []

    def walk(node_id: str, path: list[str]) -> None:
        if len(paths) >= _MAX_PATHS:
            return
        if node_id == root:
            paths.append(path)
            return
        for consumer, _ in consumers.get(node_id, []):
            walk(consumer, [*path, consumer])

    walk(leaf, [leaf])
    if len(paths) < 2:
        return []
    names = [" → ".join(records[i].name for i in path) for path in paths]
    more = "at least " if len(paths) >= _MAX_PATHS else ""
    text = f"{leaf} reaches y along {more}{len(paths)} paths ({'; '.join(names)})"
    reach: dict[str, bool] = {}

    def reaches(node_id: str) -> bool:
        if node_id not in reach:
            record = records[node_id]
            reach[node_id] = node_id == leaf or any(reaches(i) for i in record.inputs)
        return reach[node_id]

    meets: list[str] = []
    for record in records.values():
        hits = [slot for slot, i in enumerate(record.inputs) if reaches(i)]
        if len(hits) >= 2 and record.op in _ROLES:
            roles = _ROLES[record.op]
            via = [records[record.inputs[s]].name for s in hits]
            meets.append(
                f"at {record.name} = {_render(record.op, via)} it is both the {roles[0]} "
                f"(via {via[0]}) and the {roles[1]} (via {via[1]})"
            )
    if meets:
        text += "; " + "; ".join(meets)
    parts = contributions.get(leaf, [])
    if len(parts) >= 2:
        shown = " + ".join(
            f"[{', '.join(f'{v:.4g}' for v in np.asarray(c).reshape(-1))}] (via "
            f"{records[consumer].name})"
            for consumer, c in parts
        )
        text += f". The gradients along the paths add: {leaf}.grad = {shown}"
    return [text + "."]
