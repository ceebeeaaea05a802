"""Q1's inputs: the vectors ``x`` and ``z``, the dtype, and the defaults (the assignment's).

:func:`check_inputs` checks everything a trace needs without importing torch, so the CLI and
the screen report bad input at once; every problem is an :class:`InputError` naming its field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from workbench.engine.autograd.parse import InputError, Program, parse_program

MAX_ELEMENTS = 8
"""Most elements ``x`` and ``z`` may have."""

DTYPES: tuple[str, ...] = ("float32", "float64")

DEFAULT_X: tuple[float, ...] = (0.1, 0.0, 0.2, 1.0)
DEFAULT_Z: tuple[float, ...] = (-1.0, 1.0, -1.0, 0.0)
DEFAULT_EXPRESSION = "a = x + 10%4 + z; b = a ** (4*x); c = (b + 3)*5"
"""Q1's code; its vector ``c`` is reduced with mean, as the assignment's ``y = c.mean()``."""


def parse_vector(text: str | Sequence[float], name: str) -> tuple[float, ...]:
    """Parse ``"0.1,0,0.2,1"`` (brackets and spaces allowed) into 1 to 8 finite floats."""
    if isinstance(text, str):
        cleaned = text.strip().strip("[]()").replace(";", ",")
        parts = [part for part in cleaned.replace(" ", ",").split(",") if part]
        if not parts:
            raise InputError(name, "no numbers given; write e.g. 0.1,0,0.2,1")
        values: list[float] = []
        for index, part in enumerate(parts):
            try:
                values.append(float(part))
            except ValueError:
                raise InputError(name, f"element {index} ({part!r}) is not a number") from None
    else:
        values = [float(value) for value in text]
    if not 1 <= len(values) <= MAX_ELEMENTS:
        raise InputError(name, f"{len(values)} elements; give 1 to {MAX_ELEMENTS}")
    for index, value in enumerate(values):
        if not math.isfinite(value):
            raise InputError(name, f"element {index} is {value}; give finite numbers")
    return tuple(values)


def check_inputs(
    x: Sequence[float] | str, z: Sequence[float] | str, expression: str, dtype: str
) -> tuple[tuple[float, ...], tuple[float, ...], Program]:
    """Everything a trace needs, checked without importing torch (the CLI and the screen call
    this first, so bad input fails fast): ``x``, ``z`` and the parsed program."""
    xs = parse_vector(x, "x")
    zs = parse_vector(z, "z")
    if len(xs) != len(zs):
        raise InputError("z", f"x has {len(xs)} elements and z has {len(zs)}; give the same number")
    if dtype not in DTYPES:
        raise InputError("dtype", f"dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    return xs, zs, parse_program(expression)
