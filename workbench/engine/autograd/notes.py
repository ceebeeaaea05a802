"""The trace's notes: folded constants, the reduction, the paths from each input to y.

Every sentence is written from the trace's own graph and numbers, for any program: the
assignment's precedence note (``10%4`` inside ``x + 10%4 + z``) comes from where the parser
folded the constant, not from recognising the assignment.
"""

from __future__ import annotations

import numpy as np

from workbench.engine.autograd.build import Graph
from workbench.engine.autograd.model import Issue
from workbench.engine.autograd.ops import OPS
from workbench.engine.autograd.tree import Num

MAX_PATHS = 16
"""Most paths from an input to y that a note lists."""


def trace_notes(
    graph: Graph,
    reduced: bool,
    size: int,
    contributions: dict[str, list[tuple[str, np.ndarray]]],
    issues: list[Issue],
) -> list[str]:
    """Notes in the order a reader needs them."""
    notes = [_folded(num, name) for num, name in _folded_constants(graph)]
    if reduced:
        notes.append(
            f"The expression gives a vector of {size} elements, so it is reduced with mean, as "
            f"the assignment's y = c.mean(); ∂y/∂(each element) = 1/{size}."
        )
    for leaf in ("x", "z"):
        if leaf not in graph.records:
            notes.append(
                f"{leaf} does not reach y: PyTorch leaves {leaf}.grad as None (shown as zeros)."
            )
            continue
        notes.extend(_path_notes(leaf, graph, contributions))
    if issues:
        notes.append(
            f"{sum(1 for i in issues if i.severity == 'undefined')} undefined and "
            f"{sum(1 for i in issues if i.severity == 'kink')} kinked point(s): see the issues."
        )
    return notes


def _folded_constants(graph: Graph) -> list[tuple[Num, str]]:
    return [
        (record.expr, record.name)
        for record in graph.records.values()
        if isinstance(record.expr, Num) and record.expr.folded
    ]


def _folded(num: Num, name: str) -> str:
    if num.grouping is None:
        return (
            f"`{num.source}` is folded to the constant {name} before autograd sees it; "
            "the graph has no node for it."
        )
    context, grouped, operator = num.grouping
    return (
        f"`{num.source}` is folded to the constant {name} by Python before autograd sees it "
        f"(operator precedence: in {context} the {operator} binds tighter, so it is {grouped}); "
        "autograd only receives the number, so the graph has no node for it (a None slot in "
        "next_functions)."
    )


def _path_notes(
    leaf: str, graph: Graph, contributions: dict[str, list[tuple[str, np.ndarray]]]
) -> list[str]:
    """How ``leaf`` reaches y when it does along several paths, where the paths meet, and how
    their gradients add."""
    records = graph.records
    paths = _paths(leaf, graph)
    if len(paths) < 2:
        return []
    names = [" → ".join(records[i].name for i in path) for path in paths]
    more = "at least " if len(paths) >= MAX_PATHS else ""
    text = f"{leaf} reaches y along {more}{len(paths)} paths ({'; '.join(names)})"
    meets = _meetings(leaf, graph)
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


def _paths(leaf: str, graph: Graph) -> list[list[str]]:
    """Paths of node ids from ``leaf`` to the output, at most :data:`MAX_PATHS`."""
    consumers: dict[str, list[str]] = {}
    for record in graph.records.values():
        for input_id in record.inputs:
            consumers.setdefault(input_id, []).append(record.id)
    paths: list[list[str]] = []

    def walk(node_id: str, path: list[str]) -> None:
        if len(paths) >= MAX_PATHS:
            return
        if node_id == graph.root:
            paths.append(path)
            return
        for consumer in consumers.get(node_id, []):
            walk(consumer, [*path, consumer])

    walk(leaf, [leaf])
    return paths


def _meetings(leaf: str, graph: Graph) -> list[str]:
    """Binary operations that ``leaf`` reaches through both operands."""
    records = graph.records
    reach: dict[str, bool] = {}

    def reaches(node_id: str) -> bool:
        if node_id not in reach:
            reach[node_id] = node_id == leaf or any(reaches(i) for i in records[node_id].inputs)
        return reach[node_id]

    meets: list[str] = []
    for record in records.values():
        hits = [slot for slot, i in enumerate(record.inputs) if reaches(i)]
        if len(hits) >= 2 and record.is_op and OPS[record.op].arity == 2:
            roles = OPS[record.op].roles
            via = [records[record.inputs[s]].name for s in hits]
            meets.append(
                f"at {record.name} = {OPS[record.op].render(via)} it is both the {roles[0]} "
                f"(via {via[0]}) and the {roles[1]} (via {via[1]})"
            )
    return meets
