"""Math-style text for Q1: numbers, operand names, partial derivatives, and node names.

Pure text, no torch and no numpy: the parser, the op table and the trace all write names the
same way, so ``∂b/∂(4x)`` in a formula matches the node ``4x`` in the graph.
"""

from __future__ import annotations

import math


def format_number(value: float) -> str:
    """A short text for a number: ``2``, ``0.5``, ``1e-06``."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a number (a constant's display name)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def strict_atom(text: str) -> bool:
    """One symbol: a name or a non-negative number, never needing parentheses."""
    return text.isidentifier() or (is_number(text) and not text.startswith("-"))


def wrap(text: str, strict: bool = False) -> str:
    """``text`` in parentheses when it would read wrongly as an operand.

    Loose (the default) wraps only text with spaces or a leading minus, so ``4x`` and ``exp(x)``
    stay bare; ``strict`` wraps anything that is not one symbol (for powers and partials)."""
    if strict:
        return text if strict_atom(text) else f"({text})"
    if (" " in text or text.startswith("-") or text.startswith("−")) and not (
        text.startswith("(") and text.endswith(")") and text.count("(") == 1
    ):
        return f"({text})"
    return text


def grad_label(name: str) -> str:
    """``∂y/∂name`` with parentheses around a composite name: ``∂y/∂(x + 2)``."""
    return f"∂y/∂{wrap(name, strict=True)}"


def partial(w: str, u: str) -> str:
    """``∂w/∂u`` with composite names in parentheses."""
    return f"∂{wrap(w, strict=True)}/∂{wrap(u, strict=True)}"
