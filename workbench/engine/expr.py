"""A whitelist parser for the small expressions of the autograd stepper (Q1).

The user types an expression over the tensors ``x`` and ``z``, such as the assignment's
``(((x + 10%4 + z) ** (4*x)) + 3) * 5``. It is parsed with :mod:`ast` and checked node by node
against a whitelist; nothing the user types is ever passed to ``eval``, ``exec`` or ``compile``.

Allowed: numbers, the names ``x`` and ``z``, ``+ - * / ** %``, unary minus (and plus), and the
one-argument functions in :data:`FUNCTIONS`. Sub-expressions made only of numbers are folded
into one constant, as Python's compiler does (``10%4`` becomes ``2`` before autograd sees it).
The result is a tree of frozen dataclasses (:class:`Num`, :class:`Var`, :class:`Unary`,
:class:`BinOp`, :class:`Call`); every failure is an :class:`ExpressionError` that says what and
where.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from dataclasses import dataclass

from workbench.errors import UsageError

MAX_LENGTH = 400
"""Longest expression text accepted, in characters."""

MAX_NODES = 120
"""Most syntax-tree nodes accepted (numbers, names, operators and calls all count)."""

MAX_CONSTANT = 1e30
"""Largest magnitude a folded constant may have."""

NAMES: tuple[str, ...] = ("x", "z")
"""The only variable names: the two input tensors."""

FUNCTIONS: tuple[str, ...] = (
    "mean",
    "sum",
    "exp",
    "log",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
)
"""Functions of one argument that an expression may call."""

REDUCTIONS: tuple[str, ...] = ("mean", "sum")
"""The functions among :data:`FUNCTIONS` that reduce a vector to a scalar."""

BINARY_SYMBOLS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.Mod: "%",
}

ASSIGNMENT_EXPRESSION = "(((x + 10%4 + z) ** (4*x)) + 3) * 5"
"""Q1's expression: ``c`` of the assignment (``y = c.mean()`` is the reduction)."""


class InputError(UsageError):
    """Bad values for ``x``/``z`` (the message names which and why)."""


MAX_ELEMENTS = 8
"""Most elements ``x`` and ``z`` may have."""


class ExpressionError(UsageError):
    """The expression cannot be used: the message names the problem and its column."""


@dataclass(frozen=True)
class Num:
    """A number; ``source`` is the text it was folded from (``"10 % 4"`` for 2)."""

    value: float
    source: str
    folded: bool = False


@dataclass(frozen=True)
class Var:
    """One of the input tensors, ``x`` or ``z``."""

    name: str


@dataclass(frozen=True)
class Unary:
    """Unary minus (``op == "-"``)."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class BinOp:
    """A binary operator: ``op`` is one of ``+ - * / ** %``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Call:
    """A whitelisted function of one argument."""

    func: str
    arg: Expr


Expr = Num | Var | Unary | BinOp | Call
"""A parsed expression."""


def parse_expression(text: str) -> Expr:
    """Parse ``text`` against the whitelist; raise :class:`ExpressionError` if it is refused."""
    if not isinstance(text, str):
        raise ExpressionError("the expression must be text")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is {len(text)} characters long; at most {MAX_LENGTH} are accepted"
        )
    stripped = text.strip()
    if not stripped:
        raise ExpressionError("the expression is empty; type one over x and z, e.g. x * z")
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as error:
        where = f" at column {error.offset}" if error.offset else ""
        raise ExpressionError(f"not a valid expression{where}: {error.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("the expression is nested too deeply") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ExpressionError(
            f"expression has {count} syntax nodes; at most {MAX_NODES} are accepted"
        )
    parsed = _Converter(stripped).convert(tree.body)
    if isinstance(parsed, Num):
        raise ExpressionError(
            "the expression does not depend on x or z (it is the constant "
            f"{format_number(parsed.value)}); there is nothing to differentiate"
        )
    return parsed


def format_number(value: float) -> str:
    """A short text for a number: ``2``, ``0.5``, ``1e-06``."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def to_source(expr: Expr) -> str:
    """Python-like text of ``expr`` with the parentheses it needs (constants already folded)."""
    return _source(expr, 0)


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "unary": 3, "**": 4}


def _source(expr: Expr, parent: int) -> str:
    if isinstance(expr, Num):
        text = format_number(expr.value)
        return f"({text})" if expr.value < 0 and parent > 0 else text
    if isinstance(expr, Var):
        return expr.name
    if isinstance(expr, Call):
        return f"{expr.func}({_source(expr.arg, 0)})"
    if isinstance(expr, Unary):
        level = _PRECEDENCE["unary"]
        text = f"-{_source(expr.operand, level)}"
        return f"({text})" if parent >= level else text
    level = _PRECEDENCE[expr.op]
    if expr.op == "**":  # right-associative
        text = f"{_source(expr.left, level + 1)} ** {_source(expr.right, level)}"
    else:
        text = f"{_source(expr.left, level)} {expr.op} {_source(expr.right, level + 1)}"
    return f"({text})" if parent > level else text


def is_assignment(expr: Expr) -> bool:
    """Whether ``expr`` is Q1's expression (optionally already wrapped in ``mean``)."""
    if isinstance(expr, Call) and expr.func == "mean":
        expr = expr.arg
    return expr == parse_expression(ASSIGNMENT_EXPRESSION)


class _Converter:
    """Turns a checked :mod:`ast` tree into :data:`Expr`, folding constant sub-expressions."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _where(self, node: ast.AST) -> str:
        column = getattr(node, "col_offset", None)
        return f" at column {column + 1}" if column is not None else ""

    def _fail(self, node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(f"{message}{self._where(node)}")

    def convert(self, node: ast.AST) -> Expr:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            if node.id not in NAMES:
                hint = " (it is a function: call it, e.g. exp(x))" if node.id in FUNCTIONS else ""
                raise self._fail(node, f"unknown name {node.id!r}; only x and z may be used{hint}")
            return Var(node.id)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self._fail(node, f"{_describe(node)} is not allowed; {_ALLOWED}")

    def _constant(self, node: ast.Constant) -> Num:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(node, f"only numbers are allowed as constants, not {value!r}")
        try:
            number = float(value)
        except OverflowError:
            raise self._fail(node, "the number is too large") from None
        if not math.isfinite(number) or abs(number) > MAX_CONSTANT:
            raise self._fail(node, f"the number {value!r} is too large")
        return Num(number, ast.get_source_segment(self.text, node) or format_number(number))

    def _unary(self, node: ast.UnaryOp) -> Expr:
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise self._fail(node, f"{_describe(node)} is not allowed; {_ALLOWED}")
        operand = self.convert(node.operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(operand, Num):
            return self._folded(node, -operand.value)
        return Unary("-", operand)

    def _binary(self, node: ast.BinOp) -> Expr:
        symbol = BINARY_SYMBOLS.get(type(node.op))
        if symbol is None:
            raise self._fail(node, f"the operator {_describe(node)} is not allowed; {_ALLOWED}")
        left = self.convert(node.left)
        right = self.convert(node.right)
        if isinstance(left, Num) and isinstance(right, Num):
            return self._folded(node, self._fold(node, symbol, left.value, right.value))
        return BinOp(symbol, left, right)

    def _fold(self, node: ast.AST, op: str, a: float, b: float) -> float:
        try:
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return a / b
            if op == "%":
                return a % b
            if a < 0 and b != int(b):
                raise self._fail(node, f"{format_number(a)} ** {format_number(b)} is not real")
            return float(a**b)
        except ZeroDivisionError:
            raise self._fail(node, "division by zero in a constant") from None
        except OverflowError:
            raise self._fail(node, "a constant is too large") from None

    def _folded(self, node: ast.AST, value: float) -> Num:
        if isinstance(value, complex) or not math.isfinite(value) or abs(value) > MAX_CONSTANT:
            raise self._fail(node, "a constant is too large or not a real number")
        source = ast.get_source_segment(self.text, node) or format_number(value)
        return Num(float(value), source, folded=True)

    def _call(self, node: ast.Call) -> Expr:
        if not isinstance(node.func, ast.Name):
            raise self._fail(
                node, f"only the functions {', '.join(FUNCTIONS)} may be called, by name"
            )
        name = node.func.id
        if name not in FUNCTIONS:
            raise self._fail(
                node, f"{name}() is not allowed; the functions are {', '.join(FUNCTIONS)}"
            )
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise self._fail(node, f"{name}() takes exactly one argument")
        arg = self.convert(node.args[0])
        if isinstance(arg, Num):
            return self._folded(node, self._apply(node, name, arg.value))
        return Call(name, arg)

    def _apply(self, node: ast.AST, name: str, v: float) -> float:
        if name in ("mean", "sum"):
            return v
        if name == "log":
            if v <= 0:
                raise self._fail(node, f"log({format_number(v)}) is not a real number")
            return math.log(v)
        if name == "exp":
            if v > 69:
                raise self._fail(node, "a constant is too large")
            return math.exp(v)
        if name == "relu":
            return max(v, 0.0)
        if name == "sigmoid":
            return 1.0 / (1.0 + math.exp(-v)) if v > -700 else 0.0
        return float(getattr(math, name)(v))


_ALLOWED = f"use numbers, x, z, + - * / ** %, unary minus and {', '.join(FUNCTIONS)}(...)"


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscripting",
        ast.Lambda: "lambda",
        ast.ListComp: "a list comprehension",
        ast.SetComp: "a set comprehension",
        ast.DictComp: "a dict comprehension",
        ast.GeneratorExp: "a generator expression",
        ast.Compare: "a comparison",
        ast.BoolOp: "and/or",
        ast.IfExp: "if/else",
        ast.NamedExpr: "assignment (:=)",
        ast.Tuple: "a tuple",
        ast.List: "a list",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.JoinedStr: "an f-string",
        ast.Await: "await",
        ast.Starred: "unpacking",
        ast.MatMult: "@",
        ast.FloorDiv: "//",
        ast.BitAnd: "&",
        ast.BitOr: "|",
        ast.BitXor: "^ (use ** for powers)",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.Invert: "~",
        ast.Not: "not",
    }
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return names.get(type(node.op), type(node.op).__name__)
    return names.get(type(node), type(node).__name__)


def parse_vector(text: str | Sequence[float], name: str) -> tuple[float, ...]:
    """Parse ``"0.1,0,0.2,1"`` (brackets and spaces allowed) into 1 to 8 finite floats."""
    if isinstance(text, str):
        cleaned = text.strip().strip("[]()").replace(";", ",")
        parts = [part for part in cleaned.replace(" ", ",").split(",") if part]
        if not parts:
            raise InputError(f"--{name}: no numbers given; write e.g. 0.1,0,0.2,1")
        values: list[float] = []
        for index, part in enumerate(parts):
            try:
                values.append(float(part))
            except ValueError:
                raise InputError(f"--{name}: element {index} ({part!r}) is not a number") from None
    else:
        values = [float(value) for value in text]
    if not 1 <= len(values) <= MAX_ELEMENTS:
        raise InputError(f"--{name}: {len(values)} elements; give 1 to {MAX_ELEMENTS}")
    for index, value in enumerate(values):
        if not math.isfinite(value):
            raise InputError(f"--{name}: element {index} is {value}; give finite numbers")
    return tuple(values)
