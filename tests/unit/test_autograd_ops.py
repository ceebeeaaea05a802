"""The op table against PyTorch autograd: every entry, forward values and gradients.

Each operation of ``OPS`` has one oracle row here: an expression that uses it and the same
function written in torch directly (micrograd's test style). A new entry without a row fails
:func:`test_every_op_has_an_oracle_row`, so adding an op is one entry plus its row.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from workbench.engine.autograd.ops import OPS, FoldError
from workbench.engine.autograd.parse import parse_expression
from workbench.engine.autograd.trace import trace_expression
from workbench.engine.autograd.tree import Apply, Num

X = [0.3, 1.7, 0.9]
Z = [1.2, 0.4, 2.5]

Tensor = torch.Tensor
ORACLE: dict[str, tuple[str, Callable[[Tensor, Tensor], Tensor], str]] = {
    "+": ("x + z", lambda x, z: x + z, "AddBackward0"),
    "-": ("x - z", lambda x, z: x - z, "SubBackward0"),
    "*": ("x * z", lambda x, z: x * z, "MulBackward0"),
    "/": ("x / z", lambda x, z: x / z, "DivBackward0"),
    "%": ("x % z", lambda x, z: torch.remainder(x, z), "RemainderBackward1"),
    "**": ("x ** z", lambda x, z: x**z, "PowBackward1"),
    "neg": ("-(x * z)", lambda x, z: -(x * z), "NegBackward0"),
    "mean": ("(x * z).mean()", lambda x, z: (x * z).mean(), "MeanBackward0"),
    "sum": ("torch.sum(x * z)", lambda x, z: torch.sum(x * z), "SumBackward0"),
    "exp": ("exp(x - z)", lambda x, z: torch.exp(x - z), "ExpBackward0"),
    "log": ("log(x) * z", lambda x, z: torch.log(x) * z, "LogBackward0"),
    "sin": ("sin(x * z)", lambda x, z: torch.sin(x * z), "SinBackward0"),
    "cos": ("cos(x * z)", lambda x, z: torch.cos(x * z), "CosBackward0"),
    "tanh": ("(x * z).tanh()", lambda x, z: torch.tanh(x * z), "TanhBackward0"),
    "sigmoid": ("sigmoid(x - z)", lambda x, z: torch.sigmoid(x - z), "SigmoidBackward0"),
    "relu": ("relu(x - z)", lambda x, z: torch.relu(x - z), "ReluBackward0"),
}


def test_every_op_has_an_oracle_row() -> None:
    assert set(ORACLE) == set(OPS)


@pytest.mark.parametrize("key", sorted(ORACLE))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_op_matches_autograd(key: str, dtype: str) -> None:
    expression, function, kind = ORACLE[key]
    torch_dtype = torch.float64 if dtype == "float64" else torch.float32
    x = torch.tensor(X, dtype=torch_dtype, requires_grad=True)
    z = torch.tensor(Z, dtype=torch_dtype, requires_grad=True)
    out = function(x, z)
    y = out if out.dim() == 0 else out.mean()
    y.backward()

    trace = trace_expression(X, Z, expression, dtype)
    assert trace.x_grad == tuple(x.grad.double().tolist())  # type: ignore[union-attr]
    assert trace.z_grad == tuple(z.grad.double().tolist())  # type: ignore[union-attr]
    assert trace.node(trace.output).value == pytest.approx((y.item(),), rel=0, abs=0)
    assert kind in {node.kind for node in trace.nodes}
    # the op table's own derivative (float64, by hand) agrees with autograd
    rel = 1e-12 if dtype == "float64" else 1e-5
    assert trace.hand_x_grad == pytest.approx(trace.x_grad, rel=rel, abs=1e-12)
    assert trace.hand_z_grad == pytest.approx(trace.z_grad, rel=rel, abs=1e-12)
    assert trace.check.ok and not trace.issues


def test_tanh_local_derivative_is_one_minus_tanh_squared() -> None:
    trace = trace_expression(X, Z, "tanh(x * z)", "float64")
    step = next(s for s in trace.backward if s.name == "tanh(x·z)")
    (local,) = step.locals
    assert local.formula.endswith(" = 1 − tanh²(x·z)")
    u = torch.tensor(X, dtype=torch.float64) * torch.tensor(Z, dtype=torch.float64)
    u.requires_grad_(True)
    torch.tanh(u).sum().backward()
    assert local.local == pytest.approx(tuple(u.grad.tolist()), rel=1e-12)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("tanh(0.5) * x", math.tanh(0.5)),
        ("sigmoid(-800) + x", 0.0),
        ("-(2 ** 3) * x", -8.0),
        ("relu(-2) + x", 0.0),
    ],
)
def test_constants_fold_with_the_table(text: str, value: float) -> None:
    parsed = parse_expression(text)
    assert isinstance(parsed, Apply)
    constant = parsed.args[0]
    assert isinstance(constant, Num) and constant.folded and constant.value == value


def test_fold_refuses_what_has_no_real_value() -> None:
    with pytest.raises(FoldError, match="not real"):
        OPS["**"].fold(-8.0, 0.5)
    with pytest.raises(FoldError, match="not a real number"):
        OPS["log"].fold(0.0)
