"""Undefined and kinked points, and the hand-style gradients against PyTorch's.

The op table says where each operation's derivative is undefined or kinked; :func:`find_issues`
turns that into one :class:`Issue` per element, with what PyTorch returned there. An element
whose gradient passes through an undefined point is "undefined" down to the leaves, never
"differs"; elsewhere hand and PyTorch must agree within :data:`TOLERANCES`.
"""

from __future__ import annotations

import math

import numpy as np

from workbench.engine.autograd.build import Graph, Record, values
from workbench.engine.autograd.model import Check, GradRow, Issue
from workbench.engine.autograd.naming import wrap
from workbench.engine.autograd.ops import OPS

TOLERANCES: dict[str, tuple[float, float]] = {"float32": (1e-4, 1e-6), "float64": (1e-9, 1e-12)}
"""(rtol, atol) of the hand-vs-autograd comparison, by PyTorch's dtype: an element agrees when
``|hand - torch| <= atol + rtol * max(|hand|, |torch|)``."""


def _points(graph: Graph, record: Record) -> list[tuple[int, str, str]]:
    """(element, severity, message) for each undefined or kinked point of one operation."""
    operands = graph.inputs_of(record)
    args = [r.hand for r in operands]
    needs = [r.op != "constant" for r in operands]
    out = record.hand
    found: list[tuple[int, str, str]] = []
    with np.errstate(all="ignore"):
        for mask, severity, message in OPS[record.op].issues(args, out, needs):
            flat = np.broadcast_to(mask, out.shape).reshape(-1)
            found += [(int(i), severity, message) for i in np.flatnonzero(flat)]
    explained = {i for i, severity, _ in found if severity == "undefined"}
    for i in range(out.size):
        overflow = not math.isfinite(float(out.reshape(-1)[i])) and i not in explained
        if overflow and all(np.all(np.isfinite(a)) for a in args):
            found.append((i, "undefined", "the value overflows (too large for a float)"))
    return found


def find_issues(graph: Graph, grads: dict[str, np.ndarray | None]) -> list[Issue]:
    """Every undefined or kinked point, with PyTorch's value and gradients there."""
    issues: list[Issue] = []
    for record in graph.ops:
        assert record.tensor is not None
        flat = record.tensor.detach().double().reshape(-1)
        for element, severity, message in _points(graph, record):
            returned: list[tuple[str, float]] = []
            for input_id in dict.fromkeys(record.inputs):
                input_grad = grads.get(input_id)
                if input_grad is not None:
                    flat_grad = input_grad.reshape(-1)
                    pick = flat_grad[element] if int(flat_grad.size) > element else flat_grad[0]
                    returned.append((graph.records[input_id].name, float(pick)))
            value = float(flat[min(element, flat.numel() - 1)])
            issues.append(
                Issue(
                    node=record.id,
                    name=record.name,
                    element=element,
                    severity=severity,
                    message=message,
                    torch_value=value,
                    torch_grads=tuple(returned),
                    text=_issue_text(record.name, element, message, value, returned),
                )
            )
    return issues


def _issue_text(
    name: str, element: int, message: str, value: float, grads: list[tuple[str, float]]
) -> str:
    returned = ", ".join(f"∂y/∂{wrap(g, strict=True)} = {v:.6g}" for g, v in grads)
    return (
        f"{name}, element {element}: {message}. PyTorch returned {name} = {value:.6g}"
        + (f" and {returned}" if returned else "")
        + "."
    )


def _tainted(graph: Graph, issues: list[Issue]) -> dict[str, set[int]]:
    """Elements whose gradient passes through an undefined point, down to the leaves (the
    gradient ∂y/∂node of the node itself, upstream of the point, is still fine)."""
    seeds: dict[str, set[int]] = {}
    for issue in issues:
        if issue.severity == "undefined":
            seeds.setdefault(issue.node, set()).add(issue.element)
    tainted: dict[str, set[int]] = {}
    for record in reversed(graph.ops):
        marks = seeds.get(record.id, set()) | tainted.get(record.id, set())
        if not marks:
            continue
        for operand in graph.inputs_of(record):
            if operand.op == "constant":
                continue
            if operand.scalar:
                spread = {0}
            elif record.scalar:
                spread = set(range(operand.hand.size))
            else:
                spread = {m for m in marks if m < operand.hand.size}
            tainted.setdefault(operand.id, set()).update(spread)
    return tainted


def compare(
    graph: Graph,
    hand_grads: dict[str, np.ndarray],
    grads: dict[str, np.ndarray | None],
    issues: list[Issue],
    dtype: str,
) -> Check:
    """Rows for x, z and every intermediate (output first), the largest difference, the
    verdict and a note on precision."""
    rtol, atol = TOLERANCES[dtype]
    undefined = any(issue.severity == "undefined" for issue in issues)
    tainted = _tainted(graph, issues)
    rows: list[GradRow] = []
    for node_id in ["x", "z", *[r.id for r in reversed(graph.ops)]]:
        if node_id not in graph.records:
            continue
        record = graph.records[node_id]
        hand = hand_grads.get(node_id, np.zeros(record.hand.shape))
        torch_grad = grads.get(node_id)
        torch_value = np.zeros(hand.shape) if torch_grad is None else torch_grad
        rows.append(
            _grad_row(
                node_id,
                record.name,
                hand,
                torch_value,
                (rtol, atol),
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
    ok = all(status != "differs" for row in rows for status in row.status)
    note = (
        f"PyTorch computed in {dtype}; the hand-style chain rule runs in float64 on the same "
        f"inputs ({'rounded to float32 first' if dtype == 'float32' else 'unchanged'}). "
        + (
            "float32 keeps about 7 significant digits, so the two differ in the last digits; "
            if dtype == "float32"
            else "Both are float64, so they agree to about 15 digits; "
        )
        + f"an element agrees when |hand − torch| ≤ {atol:g} + {rtol:g}·max(|hand|, |torch|)."
    )
    return Check(tuple(rows), rtol, atol, max(finite, default=0.0), ok, note)


def _grad_row(
    node_id: str,
    name: str,
    hand: np.ndarray,
    torch_grad: np.ndarray,
    tolerance: tuple[float, float],
    undefined: bool,
    tainted: set[int],
) -> GradRow:
    rtol, atol = tolerance
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
        node_id, name, values(hand_flat), values(torch_flat), tuple(diffs), tuple(statuses)
    )
