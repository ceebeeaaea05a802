"""A whitelist parser for Q1's expressions and short programs over the tensors ``x`` and ``z``.

Accepted: one expression (``(((x + 10%4 + z) ** (4*x)) + 3) * 5``) or the assignment's own
code pasted as is, straight-line assignments separated by newlines or ``;``::

    a = x + 10%4 + z; b = a ** (4*x); c = (b + 3)*5; y = c.mean(); y.backward()

Numbers, ``x``, ``z``, names assigned above, ``+ - * / ** %``, unary minus (and plus), the
functions of :data:`~workbench.engine.autograd.ops.FUNCTIONS` called by name, with a ``torch.``
prefix or as tensor methods (``c.mean()``), and a final ``y.backward()`` (which only says what the
output is). The text is parsed with :mod:`ast` and checked node by node; nothing the user types is
ever passed to ``eval``, ``exec`` or ``compile``. Constant sub-expressions fold into one number,
as Python's compiler does (``10%4`` is 2 before autograd sees it). A name used twice is one node,
so a program may reuse its intermediates (``b = a + a``); the size limit counts that graph.
Every failure is an :class:`ExpressionError` or :class:`InputError` carrying the field it is about.
"""

from __future__ import annotations

import ast
import math

from workbench.engine.autograd.naming import format_number
from workbench.engine.autograd.ops import BINARY, FUNCTIONS, OPS, FoldError
from workbench.engine.autograd.tree import Apply, Expr, Num, Program, Var, count_nodes
from workbench.errors import UsageError

MAX_LENGTH = 400
"""Longest expression or program text accepted, in characters."""

MAX_NODES = 80
"""Most nodes the graph may have (inputs, constants and operations; a shared one counts once)."""

MAX_CONSTANT = 1e30
"""Largest magnitude a folded constant may have."""

NAMES: tuple[str, ...] = ("x", "z")
"""The input tensors."""


class InputError(UsageError):
    """Bad input for one field (``x``, ``z``, ``expr``, ``dtype``): ``field`` names it, so the
    CLI can spell its flag and a form can mark it; the message itself names no flag."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ExpressionError(InputError):
    """The expression or program cannot be used: the message names the problem and where."""

    def __init__(self, message: str) -> None:
        super().__init__("expr", message)


def parse_expression(text: str) -> Expr:
    """The output of ``text`` (see :func:`parse_program`)."""
    return parse_program(text).output


def parse_program(text: str) -> Program:
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
        tree = ast.parse(stripped, mode="exec")
    except SyntaxError as error:
        where = f" at column {error.offset}" if error.offset else ""
        if error.lineno and error.lineno > 1:
            where = f" at line {error.lineno}{where.replace(' at', ',')}"
        raise ExpressionError(f"not a valid expression{where}: {error.msg}") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("the expression is nested too deeply") from None
    try:
        program = _Converter(stripped, tree).program()
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply") from None
    if isinstance(program.output, Num):
        raise ExpressionError(
            "the expression does not depend on x or z (it is the constant "
            f"{format_number(program.output.value)}); there is nothing to differentiate"
        )
    count = count_nodes(program.output)
    if count > MAX_NODES:
        raise ExpressionError(
            f"the graph has {count} nodes; at most {MAX_NODES} are accepted "
            "(a name used twice counts once)"
        )
    return program


_ALLOWED = f"use numbers, x, z, + - * / ** %, unary minus and {', '.join(FUNCTIONS)}(...)"
_STATEMENTS = "a program is assignments (a = x * z), one a line or separated by ';'"


class _Converter:
    """Turns a checked :mod:`ast` tree into a :class:`Program`, folding constants."""

    def __init__(self, text: str, tree: ast.Module) -> None:
        self.text = text
        self.tree = tree
        self.multiline = "\n" in text
        self.scope: dict[str, Expr] = {}
        self.parents = {
            child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)
        }

    def _where(self, node: ast.AST) -> str:
        column = getattr(node, "col_offset", None)
        if column is None:
            return ""
        if self.multiline:
            return f" at line {getattr(node, 'lineno', 1)}, column {column + 1}"
        return f" at column {column + 1}"

    def _fail(self, node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(f"{message}{self._where(node)}")

    # ------------------------------------------------------------------ statements

    def program(self) -> Program:
        body = list(self.tree.body)
        backward = _backward_of(body[-1]) if body else None
        if backward is not None:
            body.pop()
        statements: list[tuple[str, Expr]] = []
        output: Expr | None = None
        for position, statement in enumerate(body):
            last = position == len(body) - 1
            if isinstance(statement, ast.Assign):
                name, output = self._assign(statement)
                statements.append((name, output))
            elif isinstance(statement, ast.Expr) and last:
                output = self.convert(statement.value)
            else:
                raise self._fail(statement, self._refusal(statement))
        if backward is not None:
            if backward.id not in self.scope:
                raise self._fail(
                    backward, f"{backward.id}.backward(): {backward.id} is not assigned"
                )
            output = self.scope[backward.id]
        if output is None:
            raise ExpressionError("the program computes nothing; assign y, e.g. y = (x * z).mean()")
        return Program(tuple(statements), output)

    def _refusal(self, statement: ast.stmt) -> str:
        if isinstance(statement, ast.Expr):
            if _backward_of(statement) is not None:
                return "y.backward() may only end the program"
            return f"an expression on its own does nothing here; {_STATEMENTS}"
        if isinstance(statement, ast.AugAssign):
            return "augmented assignment (+=) is not allowed; give the result a new name"
        return f"{_describe(statement)} is not allowed; {_STATEMENTS}"

    def _assign(self, statement: ast.Assign) -> tuple[str, Expr]:
        target = statement.targets[0]
        if len(statement.targets) != 1 or not isinstance(target, ast.Name):
            raise self._fail(statement, f"assign to one name; {_STATEMENTS}")
        name = target.id
        if name in NAMES or name in FUNCTIONS or name == "torch":
            raise self._fail(target, f"{name} cannot be assigned; choose another name")
        if name in self.scope:
            raise self._fail(target, f"{name} is assigned twice; give the new value a new name")
        value = self.convert(statement.value)
        if isinstance(value, Apply) and not value.name:
            value = Apply(value.op, value.args, name)
        self.scope[name] = value
        return name, value

    # ------------------------------------------------------------------ expressions

    def convert(self, node: ast.AST) -> Expr:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self._fail(node, f"{_describe(node)} is not allowed; {_ALLOWED}")

    def _name(self, node: ast.Name) -> Expr:
        if node.id in self.scope:
            return self.scope[node.id]
        if node.id in NAMES:
            return Var(node.id)
        hint = " (it is a function: call it, e.g. exp(x))" if node.id in FUNCTIONS else ""
        known = "only x and z may be used"
        if self.scope:
            known = f"use x, z or a name assigned above ({', '.join(self.scope)})"
        raise self._fail(node, f"unknown name {node.id!r}; {known}{hint}")

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
        return self._apply(node, "neg", [operand])

    def _binary(self, node: ast.BinOp) -> Expr:
        symbol = _SYMBOL_OF.get(type(node.op))
        if symbol is None:
            raise self._fail(node, f"the operator {_describe(node)} is not allowed; {_ALLOWED}")
        return self._apply(node, symbol, [self.convert(node.left), self.convert(node.right)])

    def _call(self, node: ast.Call) -> Expr:
        func = node.func
        method = isinstance(func, ast.Attribute) and not (
            isinstance(func.value, ast.Name) and func.value.id == "torch"
        )
        if isinstance(func, ast.Name):
            name, spelled = func.id, func.id
        elif isinstance(func, ast.Attribute):
            name = func.attr
            spelled = f".{name}" if method else f"torch.{name}"
        else:
            raise self._fail(
                node, f"only the functions {', '.join(FUNCTIONS)} may be called, by name"
            )
        if name == "backward" and method:
            raise self._fail(node, "y.backward() may only end the program")
        if name not in FUNCTIONS:
            raise self._fail(
                node, f"{spelled}() is not allowed; the functions are {', '.join(FUNCTIONS)}"
            )
        wanted = 0 if method else 1
        if (
            node.keywords
            or len(node.args) != wanted
            or any(isinstance(arg, ast.Starred) for arg in node.args)
        ):
            takes = "no arguments" if method else "exactly one argument"
            raise self._fail(node, f"{spelled}() takes {takes}")
        assert isinstance(func, ast.Name | ast.Attribute)
        operand = func.value if isinstance(func, ast.Attribute) and method else node.args[0]
        return self._apply(node, name, [self.convert(operand)])

    def _apply(self, node: ast.AST, key: str, args: list[Expr]) -> Expr:
        """The operation, or its folded value when every operand is a number."""
        if not all(isinstance(arg, Num) for arg in args):
            return Apply(key, tuple(args))
        values = [arg.value for arg in args if isinstance(arg, Num)]
        try:
            value = OPS[key].fold(*values)
        except FoldError as error:
            raise self._fail(node, str(error)) from None
        except ZeroDivisionError:
            raise self._fail(node, "division by zero in a constant") from None
        except OverflowError:
            raise self._fail(node, "a constant is too large") from None
        if isinstance(value, complex) or not math.isfinite(value) or abs(value) > MAX_CONSTANT:
            raise self._fail(node, "a constant is too large or not a real number")
        source = ast.get_source_segment(self.text, node) or format_number(value)
        return Num(float(value), source, folded=True, grouping=self._grouping(node, source))

    def _grouping(self, node: ast.AST, source: str) -> tuple[str, str, str] | None:
        """``("x + 10%4 + z", "x + (10%4) + z", "%")`` when the folded ``node`` is an operand of a
        looser operator: the widest run of that operator's precedence around it."""
        parent = self.parents.get(node)
        if not (isinstance(node, ast.BinOp) and isinstance(parent, ast.BinOp)):
            return None
        level = _precedence(parent)
        if level >= _precedence(node):
            return None
        top = parent
        while isinstance(above := self.parents.get(top), ast.BinOp) and _precedence(above) == level:
            top = above
        context = ast.get_source_segment(self.text, top)
        if context is None or top.lineno != node.lineno:
            return None
        start = node.col_offset - top.col_offset
        grouped = f"{context[:start]}({source}){context[start + len(source) :]}"
        return context, grouped, _SYMBOL_OF[type(node.op)]


_SYMBOL_OF: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.Mod: "%",
}


def _precedence(node: ast.BinOp) -> int:
    symbol = _SYMBOL_OF.get(type(node.op))
    return BINARY[symbol].precedence if symbol else 0


def _backward_of(statement: ast.stmt) -> ast.Name | None:
    """``y`` when ``statement`` is ``y.backward()``."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return None
    call = statement.value
    func = call.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr == "backward"
        and isinstance(func.value, ast.Name)
        and not call.args
        and not call.keywords
    ):
        return func.value
    return None


_DESCRIPTIONS: dict[type, str] = {
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
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.FunctionDef: "def",
    ast.ClassDef: "class",
    ast.For: "for",
    ast.While: "while",
    ast.If: "if",
    ast.With: "with",
    ast.Return: "return",
    ast.Delete: "del",
    ast.AnnAssign: "an annotated assignment",
}


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return _DESCRIPTIONS.get(type(node.op), type(node.op).__name__)
    return _DESCRIPTIONS.get(type(node), type(node).__name__)
