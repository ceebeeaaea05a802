"""The parsed form of Q1's code: numbers, inputs and operations, and their source text.

An :class:`Apply` is one operation of the op table over its operands; a program's statements
share their results by reference (one name used twice is one object), so the tree is really a
graph, and :func:`count_nodes` and :func:`expression_source` count and write it as one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.engine.autograd.naming import format_number
from workbench.engine.autograd.ops import OPS


@dataclass(frozen=True)
class Num:
    """A number; ``source`` is the text it was folded from (``"10%4"`` for 2). ``grouping``
    is set when operator precedence folded it inside a looser operation: ``("x + 10%4 + z",
    "x + (10%4) + z", "%")``."""

    value: float
    source: str
    folded: bool = False
    grouping: tuple[str, str, str] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Var:
    """One of the input tensors, ``x`` or ``z``."""

    name: str


@dataclass(frozen=True, eq=False)
class Apply:
    """One operation of :data:`~workbench.engine.autograd.ops.OPS` on its operands; ``name``
    is the student's name for its result (``a``), empty for an unnamed sub-expression.

    Compared by identity: two ``x * z`` written apart are two nodes in autograd's graph, one
    name used twice is one."""

    op: str
    args: tuple[Expr, ...]
    name: str = ""

    def same(self, other: object) -> bool:
        """Structural equality, names ignored (for tests and round trips)."""
        return (
            isinstance(other, Apply)
            and self.op == other.op
            and len(self.args) == len(other.args)
            and all(_same(a, b) for a, b in zip(self.args, other.args, strict=True))
        )


Expr = Num | Var | Apply
"""A parsed expression: a graph of operations over numbers and the inputs."""


def _same(a: Expr, b: Expr) -> bool:
    return a.same(b) if isinstance(a, Apply) else a == b


@dataclass(frozen=True)
class Program:
    """The parsed text: the named statements in order and the output (what y is)."""

    statements: tuple[tuple[str, Expr], ...]
    output: Expr

    @property
    def source(self) -> str:
        """Python-like text with the parentheses it needs, constants folded: the expression,
        or the statements joined by ``; ``."""
        parts = [f"{name} = {to_source(expr, top=True)}" for name, expr in self.statements]
        if not any(expr is self.output for _, expr in self.statements):
            parts.append(to_source(self.output, top=True))
        return "; ".join(parts)


def count_nodes(expr: Expr) -> int:
    """Nodes of the graph of ``expr``: each input once, each operation and constant once."""
    seen: set[int] = set()
    inputs: set[str] = set()
    stack = [expr]
    while stack:
        item = stack.pop()
        if isinstance(item, Var):
            inputs.add(item.name)
        elif id(item) not in seen:
            seen.add(id(item))
            if isinstance(item, Apply):
                stack.extend(item.args)
    return len(seen) + len(inputs)


def is_program(text: str) -> bool:
    """Whether ``text`` is a program (it assigns names) rather than one expression."""
    return "=" in text  # an accepted expression has no comparison, keyword or walrus


def to_source(expr: Expr, parent: int = 0, top: bool = False, inline: bool = False) -> str:
    """Python-like text of ``expr`` with the parentheses it needs (constants already folded).

    A named sub-expression is written as its name, unless it is the ``top`` one or ``inline``
    asks for the whole expression (see :func:`expression_source`)."""
    if isinstance(expr, Num):
        text = format_number(expr.value)
        return f"({text})" if expr.value < 0 and parent > 0 else text
    if isinstance(expr, Var):
        return expr.name
    if expr.name and not (top or inline):
        return expr.name
    op = OPS[expr.op]
    if op.symbol:
        level = op.precedence
        left, right = expr.args
        if op.symbol == "**":  # right-associative
            text = (
                f"{to_source(left, level + 1, inline=inline)} ** "
                f"{to_source(right, level, inline=inline)}"
            )
        else:
            text = (
                f"{to_source(left, level, inline=inline)} {op.symbol} "
                f"{to_source(right, level + 1, inline=inline)}"
            )
        return f"({text})" if parent > level else text
    if op.key == "neg":
        text = f"-{to_source(expr.args[0], op.precedence, inline=inline)}"
        return f"({text})" if parent >= op.precedence else text
    return f"{op.key}({to_source(expr.args[0], inline=inline)})"


MAX_INLINE = 1000
"""Most terms :func:`expression_source` writes out in full; a program that reuses its
intermediates can double its text with every line, so beyond this it keeps the names."""


def expression_source(expr: Expr) -> str:
    """The whole expression a node computes, over x and z only (``(x + 2 + z) ** (4 * x)``
    for the assignment's ``b``), or its own statement when that would be too long."""
    sizes: dict[int, int] = {}

    def size(item: Expr) -> int:
        if not isinstance(item, Apply):
            return 1
        if id(item) not in sizes:
            sizes[id(item)] = 1 + sum(size(arg) for arg in item.args)
        return sizes[id(item)]

    return to_source(expr, top=True, inline=size(expr) <= MAX_INLINE)
