"""The operations of Q1, one entry each (micrograd-style).

An :class:`Op` holds everything the workbench knows about one operation: the PyTorch function
that builds autograd's node, the numpy function of the float64 hand-style forward pass, its
local derivatives (formula text and numbers), the points where the derivative is undefined or
kinked, its math-style rendering, its Python precedence, and how a constant argument folds.
The parser, the tracer and the check read only this table, so adding an operation (``sqrt``,
say) is one entry in :data:`OPS` plus its test against autograd.

Importing this module does not import torch (the parser uses the table before torch loads):
the torch functions look ``torch`` up when they are called.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.engine.autograd.naming import format_number, is_number, strict_atom, wrap

Array = np.ndarray
Found = list[tuple[Array, str, str]]
"""Issues of one operation: (element mask, ``"undefined"`` or ``"kink"``, message)."""


class FoldError(ValueError):
    """A constant sub-expression has no real value (the message says why)."""


@dataclass(frozen=True)
class LocalContext:
    """What a local derivative ∂out/∂args[slot] may look at (float64, hand-style)."""

    slot: int
    args: list[Array]
    out: Array
    names: list[str]
    """Display names of the operands, for the formula."""
    name: str
    """The node's own display name."""

    @property
    def ones(self) -> Array:
        """Ones of the output's shape: a local derivative is broadcast to it."""
        return np.ones(self.out.shape)


@dataclass(frozen=True)
class Op:
    """One operation: every meaning it has in the workbench, in one place."""

    key: str
    """How the parser and the trace name it: ``"+"``, ``"neg"``, ``"exp"``, ``"mean"``."""
    arity: int
    torch_fn: Callable[..., Any]
    """Builds PyTorch's node from tensors (and Python floats for constant operands)."""
    numpy_fn: Callable[..., Array]
    """The same function on float64 arrays, for the hand-style forward pass."""
    local: Callable[[LocalContext], tuple[str, Array]]
    """Formula text and per-element value of ∂out/∂args[slot]."""
    fold: Callable[..., float]
    """The value on Python floats, for constant folding; raises :class:`FoldError`."""
    render: Callable[[list[str]], str]
    """Math-style text over operand display names: ``a^(4x)``, ``exp(x)``."""
    issues: Callable[[list[Array], Array, list[bool]], Found] = lambda args, out, needs: []
    """Undefined or kinked points, given which operands need a gradient."""
    roles: tuple[str, ...] = ("operand",)
    """What each operand is called on a graph edge (``base``, ``exponent`` …)."""
    symbol: str = ""
    """The Python operator of a binary op (``"**"``); empty for functions."""
    precedence: int = 5
    """Python's binding strength, for source text and the precedence note."""
    reduces: bool = False
    """Whether the result is a scalar whatever the input's shape."""


def _lazy_torch(name: str) -> Callable[..., Any]:
    """``torch.<name>``, looked up at call time: importing torch costs 1-2 s."""

    def call(*args: Any) -> Any:
        import torch

        return getattr(torch, name)(*args)

    call.__name__ = f"torch.{name}"
    return call


def _remainder(u: Any, v: Any) -> Any:
    # `2 % x` has no derivative for the divisor in PyTorch's scalar overload: use a tensor.
    import torch

    left = u if isinstance(u, torch.Tensor) else torch.tensor(u, dtype=v.dtype)
    return torch.remainder(left, v)


def _call_render(name: str) -> Callable[[list[str]], str]:
    return lambda names: f"{name}({names[0]})"


def _render_product(names: list[str]) -> str:
    u, v = names
    if is_number(u) and strict_atom(v) and not is_number(v):
        return f"{u}{v}"
    return f"{wrap(u)}·{wrap(v)}"


def _each_slot(*texts: tuple[str, Callable[[LocalContext], Array]]) -> Callable[..., Any]:
    """A local derivative given per slot as (formula, numbers) with fixed text."""

    def local(c: LocalContext) -> tuple[str, Array]:
        text, value = texts[c.slot]
        return text, value(c)

    return local


# --------------------------------------------------------------------------- binary operators


def _pow_local(c: LocalContext) -> tuple[str, Array]:
    u, v = c.args
    un, vn = c.names
    if c.slot == 0:
        if is_number(vn):
            text = f"{vn}·{wrap(un, strict=True)}^{format_number(float(vn) - 1)}"
        else:
            text = f"{vn}·{wrap(un, strict=True)}^({vn}−1)"
        local = np.where(v == 0, 0.0, v * np.power(u, v - 1.0)) * c.ones
        return text, np.where((u == 0) & (v == 0), np.nan, local)
    text = f"{wrap(un, strict=True)}^{wrap(vn, strict=True)}·ln {wrap(un)}"
    local = np.where((u == 0) & (v > 0), 0.0, c.out * np.log(u)) * c.ones
    return text, np.where((u == 0) & (v == 0), np.nan, local)


def _pow_issues(args: list[Array], out: Array, needs: list[bool]) -> Found:
    u, v = args
    found: Found = [
        (
            (u < 0) & (v != np.round(v)),
            "undefined",
            "negative base with a non-integer exponent: the power is not a real number",
        ),
        (
            (u == 0) & (v == 0),
            "undefined",
            "0**0: the value is taken as 1 but the "
            "derivative is undefined (its limit depends on the direction)",
        ),
        ((u == 0) & (v < 0), "undefined", "0 to a negative power: division by zero"),
    ]
    if needs[0]:
        found.append(
            (
                (u == 0) & (v > 0) & (v < 1),
                "undefined",
                "the derivative for the base, v·u^(v−1), "
                "is infinite at base 0 with an exponent below 1",
            )
        )
    if needs[1]:
        found.append(
            (
                (u < 0) & (v == np.round(v)),
                "undefined",
                "the derivative for the exponent, u^v·ln u, needs the logarithm of a negative base",
            )
        )
    return found


def _pow_fold(a: float, b: float) -> float:
    if a < 0 and b != int(b):
        raise FoldError(f"{format_number(a)} ** {format_number(b)} is not real")
    return float(a**b)


def _remainder_issues(args: list[Array], out: Array, needs: list[bool]) -> Found:
    u, v = args
    exact = np.mod(u, np.where(v == 0, 1.0, v)) == 0
    return [
        (v == 0, "undefined", "remainder by zero"),
        (
            (v != 0) & exact & needs[1],
            "kink",
            "the remainder jumps here (u/v is an integer): "
            "PyTorch uses the one-sided derivative −floor(u/v)",
        ),
    ]


def _binary(symbol: str, display: str, precedence: int, roles: tuple[str, str], **entry: Any) -> Op:
    """A binary operator; its default rendering is ``u ⊕ v`` (``+`` leaves its left bare)."""
    if "render" not in entry:
        entry["render"] = lambda n: (
            f"{n[0] if symbol == '+' else wrap(n[0])} {display} {wrap(n[1])}"
        )
    return Op(key=symbol, arity=2, symbol=symbol, precedence=precedence, roles=roles, **entry)


_ONE = ("1", lambda c: c.ones)

_BINARY = [
    _binary(
        "+",
        "+",
        1,
        ("left operand", "right operand"),
        torch_fn=lambda u, v: u + v,
        numpy_fn=lambda u, v: u + v,
        local=_each_slot(_ONE, _ONE),
        fold=lambda a, b: a + b,
    ),
    _binary(
        "-",
        "−",
        1,
        ("minuend", "subtrahend"),
        torch_fn=lambda u, v: u - v,
        numpy_fn=lambda u, v: u - v,
        local=_each_slot(_ONE, ("−1", lambda c: -c.ones)),
        fold=lambda a, b: a - b,
    ),
    _binary(
        "*",
        "·",
        2,
        ("left factor", "right factor"),
        torch_fn=lambda u, v: u * v,
        numpy_fn=lambda u, v: u * v,
        local=lambda c: (c.names[1 - c.slot], c.args[1 - c.slot] * c.ones),
        fold=lambda a, b: a * b,
        render=_render_product,
    ),
    _binary(
        "/",
        "/",
        2,
        ("numerator", "denominator"),
        torch_fn=lambda u, v: u / v,
        numpy_fn=lambda u, v: u / v,
        local=lambda c: (
            (f"1/{wrap(c.names[1])}", (1.0 / c.args[1]) * c.ones)
            if c.slot == 0
            else (
                f"−{wrap(c.names[0])}/{wrap(c.names[1], strict=True)}²",
                (-c.args[0] / (c.args[1] * c.args[1])) * c.ones,
            )
        ),
        fold=lambda a, b: a / b,
        issues=lambda args, out, needs: [(args[1] == 0, "undefined", "division by zero")],
    ),
    _binary(
        "%",
        "%",
        2,
        ("dividend", "divisor"),
        torch_fn=_remainder,
        numpy_fn=np.mod,
        # floor_divide rounds like Python and PyTorch (from fmod), not floor(u / v)
        local=lambda c: (
            ("1", c.ones)
            if c.slot == 0
            else (
                f"−floor({c.names[0]}/{wrap(c.names[1])})",
                -np.floor_divide(c.args[0], c.args[1]) * c.ones,
            )
        ),
        fold=lambda a, b: a % b,
        issues=_remainder_issues,
    ),
    _binary(
        "**",
        "^",
        4,
        ("base", "exponent"),
        torch_fn=lambda u, v: u**v,
        numpy_fn=np.power,
        local=_pow_local,
        fold=_pow_fold,
        render=lambda n: f"{wrap(n[0], strict=True)}^{wrap(n[1], strict=True)}",
        issues=_pow_issues,
    ),
]


# --------------------------------------------------------------------------- functions


def _exp_local(c: LocalContext) -> tuple[str, Array]:
    text = f"exp({c.names[0]})"
    return (text if c.name == text else f"{text} = {c.name}"), c.out


def _exp_fold(v: float) -> float:
    if v > 69:
        raise FoldError("a constant is too large")
    return math.exp(v)


def _log_fold(v: float) -> float:
    if v <= 0:
        raise FoldError(f"log({format_number(v)}) is not a real number")
    return math.log(v)


def _log_issues(args: list[Array], out: Array, needs: list[bool]) -> Found:
    (u,) = args
    return [
        (u < 0, "undefined", "log of a negative number is not real"),
        (u == 0, "undefined", "log(0) is −inf and its derivative 1/u is infinite"),
    ]


def _function(key: str, **entry: Any) -> Op:
    """A function of one tensor, ``key(u)``, also a tensor method (``u.key()``)."""
    entry.setdefault("torch_fn", _lazy_torch(key))
    entry.setdefault("render", _call_render(key))
    return Op(key=key, arity=1, **entry)


def _reduction(key: str, numpy_fn: Callable[[Array], Any], text: Callable[[int], str]) -> Op:
    """``mean``/``sum``: the local derivative has the input's shape, the output is a scalar."""

    def local(c: LocalContext) -> tuple[str, Array]:
        (u,) = c.args
        n = u.size
        return text(n), np.full(u.shape, 1.0 / n) if key == "mean" else np.ones(u.shape)

    return _function(
        key,
        numpy_fn=lambda u: np.asarray(numpy_fn(u)),
        local=local,
        fold=lambda v: v,
        reduces=True,
    )


_FUNCTIONS = [
    _reduction("mean", np.mean, lambda n: f"1/n = 1/{n}"),
    _reduction("sum", np.sum, lambda n: "1"),
    _function("exp", numpy_fn=np.exp, local=_exp_local, fold=_exp_fold),
    _function(
        "log",
        numpy_fn=np.log,
        local=lambda c: (f"1/{wrap(c.names[0])}", 1.0 / c.args[0]),
        fold=_log_fold,
        issues=_log_issues,
    ),
    _function(
        "sin",
        numpy_fn=np.sin,
        local=lambda c: (f"cos({c.names[0]})", np.cos(c.args[0])),
        fold=math.sin,
    ),
    _function(
        "cos",
        numpy_fn=np.cos,
        local=lambda c: (f"−sin({c.names[0]})", -np.sin(c.args[0])),
        fold=math.cos,
    ),
    _function(
        "tanh",
        numpy_fn=np.tanh,
        local=lambda c: (f"1 − tanh²({c.names[0]})", 1.0 - c.out * c.out),
        fold=math.tanh,
    ),
    _function(
        "sigmoid",
        numpy_fn=lambda u: 1.0 / (1.0 + np.exp(-u)),
        local=lambda c: (f"σ({c.names[0]})·(1 − σ({c.names[0]}))", c.out * (1.0 - c.out)),
        fold=lambda v: 1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0,
    ),
    _function(
        "relu",
        numpy_fn=lambda u: np.maximum(u, 0.0),
        local=lambda c: (f"[{c.names[0]} > 0]", (c.args[0] > 0).astype(np.float64)),
        fold=lambda v: max(v, 0.0),
        issues=lambda args, out, needs: [
            (args[0] == 0, "kink", "relu has a kink at 0: PyTorch uses the derivative 0 there")
        ],
    ),
]

NEG = Op(
    key="neg",
    arity=1,
    torch_fn=lambda u: -u,
    numpy_fn=lambda u: -u,
    local=lambda c: ("−1", -c.ones),
    fold=lambda v: -v,
    render=lambda n: f"−{wrap(n[0], strict=True)}",
    precedence=3,
)

OPS: dict[str, Op] = {op.key: op for op in [*_BINARY, NEG, *_FUNCTIONS]}
"""Every operation, by key."""

FUNCTIONS: tuple[str, ...] = tuple(op.key for op in _FUNCTIONS)
"""Functions of one argument an expression may call (``exp(x)``, ``torch.exp(x)``,
``x.exp()``)."""

BINARY: dict[str, Op] = {op.symbol: op for op in _BINARY}
"""The binary operators, by their Python symbol."""
