"""The whitelist parser of expressions and programs: what it accepts, folds, and refuses."""

from __future__ import annotations

from itertools import pairwise

import pytest

from workbench.engine.autograd.inputs import DEFAULT_EXPRESSION
from workbench.engine.autograd.parse import (
    MAX_LENGTH,
    MAX_NODES,
    ExpressionError,
    InputError,
    parse_expression,
    parse_program,
)
from workbench.engine.autograd.tree import Apply, Expr, Num, Var, count_nodes, to_source
from workbench.errors import UsageError

EXPRESSION = "(((x + 10%4 + z) ** (4*x)) + 3) * 5"


def _same(a: object, b: object) -> bool:
    return a.same(b) if isinstance(a, Apply) else a == b


def test_assignment_parses_and_folds_ten_mod_four() -> None:
    expr = parse_expression(EXPRESSION)
    assert isinstance(expr, Apply) and expr.op == "*"
    add = expr.args[0].args[0].args[0].args[0]  # type: ignore[union-attr]
    assert _same(add, Apply("+", (Var("x"), Num(2.0, "10%4", folded=True))))
    ten_mod_four = add.args[1]  # type: ignore[union-attr]
    assert ten_mod_four.grouping == ("x + 10%4 + z", "x + (10%4) + z", "%")
    # the program computes the same graph, with the student's names on it
    program = parse_program(f"{DEFAULT_EXPRESSION}; y = c.mean()")
    assert [name for name, _ in program.statements] == ["a", "b", "c", "y"]
    assert _same(program.output, Apply("mean", (expr,)))
    assert program.output.args[0].name == "c"  # type: ignore[union-attr]
    assert program.source == "a = x + 2 + z; b = a ** (4 * x); c = (b + 3) * 5; y = mean(c)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x + z", Apply("+", (Var("x"), Var("z")))),
        ("-x", Apply("neg", (Var("x"),))),
        ("+x", Var("x")),
        ("sigmoid(z)", Apply("sigmoid", (Var("z"),))),
        ("2 * 3 + x", Apply("+", (Num(6.0, "2 * 3", folded=True), Var("x")))),
        ("exp(0) * x", Apply("*", (Num(1.0, "exp(0)", folded=True), Var("x")))),
        ("torch.exp(x)", Apply("exp", (Var("x"),))),
        ("(x * z).mean()", Apply("mean", (Apply("*", (Var("x"), Var("z"))),))),
        ("torch.sigmoid(x).sum()", Apply("sum", (Apply("sigmoid", (Var("x"),)),))),
    ],
)
def test_accepts_whitelisted_syntax(text: str, expected: Expr) -> None:
    assert _same(parse_expression(text), expected)


@pytest.mark.parametrize(
    "text",
    [
        "a = x + 10%4 + z; b = a ** (4*x); c = (b + 3)*5; y = c.mean(); y.backward()",
        "a = x + 10%4 + z\nb = a ** (4*x)\nc = (b + 3)*5\ny = c.mean()\ny.backward()\n",
        "a = x + 10%4 + z; b = a ** (4*x); c = (b + 3)*5; y = torch.mean(c)",
        "a = x + 10%4 + z; b = a ** (4*x); c = (b + 3)*5; c.mean()",
    ],
)
def test_the_assignment_pasted_as_is(text: str) -> None:
    program = parse_program(text)
    expected = Apply("mean", (parse_expression(EXPRESSION),))
    assert _same(program.output, expected)
    assert program.output.args[0].name == "c"  # type: ignore[union-attr]


def test_a_name_used_twice_is_one_node() -> None:
    program = parse_program("a = x*z; b = a + a; c = b*a + b; y = c.sum()")
    b = program.output.args[0].args[1]  # type: ignore[union-attr]
    assert b.name == "b" and b.args[0] is b.args[1]  # a, shared
    assert count_nodes(program.output) == 7  # x, z, a, b, b*a, c, y
    # reuse does not count against the limit: 22 doublings are 22 nodes, not 2**22
    names = "abcdefghijklmnopqrstuvw"
    lines = ["a = x * z", *(f"{n} = {p} + {p}" for p, n in pairwise(names))]
    doubled = parse_program("; ".join(lines))
    assert count_nodes(doubled.output) == 2 + len(names)
    assert doubled.source.endswith("w = v + v")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a = x; a = z", "assigned twice"),
        ("x = z * 2", "x cannot be assigned"),
        ("exp = x * 2", "exp cannot be assigned"),
        ("a = b * x", "unknown name 'b'"),
        ("a = x * z; q * a", "use x, z or a name assigned above (a)"),
        ("a = x * z; a += 1", "augmented assignment"),
        ("a, b = x, z", "assign to one name"),
        ("a = b = x", "assign to one name"),
        ("x * z; a = x", "does nothing here"),
        ("y = x * z; y.backward(); y = x", "may only end the program"),
        ("y = (x * z).backward()", "may only end the program"),
        ("y = x * z; q.backward()", "q is not assigned"),
        ("y.backward()", "y is not assigned"),
        ("\n\n", "empty"),
        ("import os", "import is not allowed"),
        ("for i in x: y = i", "for is not allowed"),
        ("y = torch.load(x)", "torch.load() is not allowed"),
        ("y = x.grad", "attribute access"),
        ("y = x.mean(0)", ".mean() takes no arguments"),
        ("y = x.numpy()", ".numpy() is not allowed"),
        ("y = os.system(x)", ".system() is not allowed"),
        ("a = x\nb = q", "line 2, column 5"),
    ],
)
def test_refuses_programs(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_program(text)
    assert fragment in str(caught.value)
    assert caught.value.field == "expr"


def test_all_functions_and_operators() -> None:
    text = "mean(x) + sum(z) - exp(x) * log(z) / sin(x) ** cos(z) % tanh(x) + relu(-x)"
    assert "relu" in to_source(parse_expression(text))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("x.real", "attribute access"),
        ("x.__class__", "attribute access"),
        ("__import__('os')", "__import__() is not allowed"),
        ("open('f')", "open() is not allowed"),
        ("eval('1')", "eval() is not allowed"),
        ("q + x", "unknown name 'q'"),
        ("exp", "it is a function"),
        ("(lambda: x)()", "by name"),
        ("lambda: x", "lambda"),
        ("[i for i in x]", "list comprehension"),
        ("(i for i in x)", "generator"),
        ("x[0]", "subscripting"),
        ("x if z else x", "if/else"),
        ("x < z", "comparison"),
        ("x // z", "//"),
        ("x ^ z", "use ** for powers"),
        ("exp(x, z)", "exactly one argument"),
        ("exp(x=1)", "exactly one argument"),
        ("'a' + x", "only numbers"),
        ("True + x", "only numbers"),
        ("1j * x", "only numbers"),
        ("(x := 1)", "assignment"),
        ("x +", "not a valid expression"),
        ("", "empty"),
        ("3 + 4", "does not depend on x or z"),
        ("1 / 0 + x", "division by zero"),
        ("10 ** 10 ** 10 + x", "too large"),
        ("(-8) ** 0.5 + x", "not real"),
        ("log(-1) + x", "not a real number"),
        ("x" + " + x" * (MAX_LENGTH // 4), "characters long"),
        ("+".join(["x"] * (MAX_NODES + 1)), f"at most {MAX_NODES} are accepted"),
        ("-" * (MAX_NODES + 1) + "x", "graph has 82 nodes"),
    ],
)
def test_refuses(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionError, match=None) as caught:
        parse_expression(text)
    assert isinstance(caught.value, UsageError) and isinstance(caught.value, InputError)
    assert caught.value.field == "expr"
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_error_names_the_column() -> None:
    with pytest.raises(ExpressionError, match="column 5"):
        parse_expression("x + q")


def test_to_source_round_trips_precedence() -> None:
    for text in [
        "-x ** 2",
        "(-x) ** 2",
        "2 - (3 - x)",
        "x ** z ** 2",
        "(x ** z) ** 2",
        "x / (z * x)",
    ]:
        parsed = parse_expression(text)
        assert _same(parse_expression(to_source(parsed)), parsed)
