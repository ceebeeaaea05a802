"""The hand-style backward pass: the chain rule in float64, one step per operation.

Reverse topological order, starting from ∂y/∂y = 1: each step takes the upstream gradient of its
node and, for every operand that is not a constant, the op table's local derivative (formula and
numbers), the contribution upstream × local and the running sum at the operand (a node reached
along several paths adds its contributions, as autograd does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.engine.autograd.build import Graph, Record, values
from workbench.engine.autograd.model import BackwardStep, LocalDerivative
from workbench.engine.autograd.naming import partial
from workbench.engine.autograd.ops import OPS, LocalContext
from workbench.engine.autograd.tree import Num


@dataclass
class HandBackward:
    """What the hand-style backward pass found."""

    grads: dict[str, np.ndarray]
    """∂y/∂node for every node reached."""
    steps: list[BackwardStep] = field(default_factory=list)
    contributions: dict[str, list[tuple[str, np.ndarray]]] = field(default_factory=dict)
    """Per node: (consumer id, contribution) in the order they arrived."""


def hand_backward(graph: Graph) -> HandBackward:
    """Every backward step of ``graph`` (already run by :func:`~.build.run_hand`)."""
    result = HandBackward(grads={graph.root: np.ones(())})
    for index, record in enumerate(reversed(graph.ops)):
        upstream = result.grads.get(record.id, np.zeros(record.hand.shape))
        locals_ = [
            _local(graph, record, slot, upstream, result)
            for slot, operand in enumerate(graph.inputs_of(record))
            if operand.op != "constant"
        ]
        result.steps.append(
            BackwardStep(
                index=index,
                node=record.id,
                name=record.name,
                kind=type(record.tensor.grad_fn).__name__ if record.tensor is not None else "",
                equation=equation(record, graph),
                upstream=values(upstream),
                locals=tuple(locals_),
            )
        )
    return result


def _local(
    graph: Graph, record: Record, slot: int, upstream: np.ndarray, result: HandBackward
) -> LocalDerivative:
    """One operand's local derivative, its contribution, and the sum so far at the operand."""
    operands = graph.inputs_of(record)
    operand = operands[slot]
    context = LocalContext(
        slot, [r.hand for r in operands], record.hand, [r.name for r in operands], record.name
    )
    with np.errstate(all="ignore"):
        text, local = OPS[record.op].local(context)
        contribution = upstream * local
    note = ""
    if contribution.shape != operand.hand.shape:
        contribution = np.asarray(contribution.sum())
        note = f"{operand.name} is a scalar used for every element: contributions summed"
    previous = result.grads.get(operand.id)
    if previous is not None:
        note = (note + "; " if note else "") + (
            f"{operand.name} is reached again: this adds to the gradient it already has"
        )
    with np.errstate(all="ignore"):
        total = contribution if previous is None else previous + contribution
    result.grads[operand.id] = total
    result.contributions.setdefault(operand.id, []).append((record.id, contribution))
    return LocalDerivative(
        input=operand.id,
        input_name=operand.name,
        formula=f"{partial(record.name, operand.name)} = {text}",
        local=values(local),
        contribution=values(contribution),
        accumulated=values(total),
        note=note,
    )


def equation(record: Record, graph: Graph) -> str:
    """``b = a^(4x)``; a node named by its own rendering is just that (``x + 2``)."""
    if record.op == "input":
        return f"{record.name} = input (requires_grad)"
    if record.op == "constant":
        assert isinstance(record.expr, Num)
        if record.expr.folded:
            return f"{record.name} = {record.expr.source} (folded by Python)"
        return f"{record.name} = constant"
    text = OPS[record.op].render([r.name for r in graph.inputs_of(record)])
    return text if text == record.name else f"{record.name} = {text}"
