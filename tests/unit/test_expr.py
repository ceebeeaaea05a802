"""The whitelist expression parser: what it accepts, folds, and refuses."""

from __future__ import annotations

import pytest

from workbench.engine.expr import (
    ASSIGNMENT_EXPRESSION,
    MAX_LENGTH,
    BinOp,
    Call,
    ExpressionError,
    Num,
    Unary,
    Var,
    is_assignment,
    parse_expression,
    to_source,
)
from workbench.errors import UsageError


def test_assignment_parses_and_folds_ten_mod_four() -> None:
    expr = parse_expression(ASSIGNMENT_EXPRESSION)
    assert isinstance(expr, BinOp) and expr.op == "*"
    add = expr.left.left.left.left  # type: ignore[union-attr]
    assert add == BinOp("+", Var("x"), Num(2.0, "10%4", folded=True))
    assert is_assignment(expr)
    assert is_assignment(parse_expression(f"mean({ASSIGNMENT_EXPRESSION})"))
    assert not is_assignment(parse_expression("x * z"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x + z", BinOp("+", Var("x"), Var("z"))),
        ("-x", Unary("-", Var("x"))),
        ("+x", Var("x")),
        ("sigmoid(z)", Call("sigmoid", Var("z"))),
        ("2 * 3 + x", BinOp("+", Num(6.0, "2 * 3", folded=True), Var("x"))),
        ("exp(0) * x", BinOp("*", Num(1.0, "exp(0)", folded=True), Var("x"))),
    ],
)
def test_accepts_whitelisted_syntax(text: str, expected: object) -> None:
    assert parse_expression(text) == expected


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
        ("torch.exp(x)", "may be called, by name"),
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
        ("+".join(["x"] * 70), "syntax nodes"),
        ("exp(" * 70 + "x" + ")" * 70, "syntax nodes"),
    ],
)
def test_refuses(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionError, match=None) as caught:
        parse_expression(text)
    assert isinstance(caught.value, UsageError)
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
        assert parse_expression(to_source(parsed)) == parsed
