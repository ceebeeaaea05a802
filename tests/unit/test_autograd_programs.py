"""Programs, not only expressions: the assignment's code pasted as is, and micrograd-style
programs that reuse their intermediates, traced and checked against PyTorch run directly."""

from __future__ import annotations

import pytest
import torch

from workbench.engine.autograd import DEFAULT_EXPRESSION, AutogradTrace, heading
from workbench.engine.autograd.trace import trace_expression

ASSIGNMENT_CODE = """\
a = x + 10%4 + z
b = a ** (4*x)
c = (b + 3)*5
y = c.mean()
y.backward()
"""


def _leaves(x: list[float], z: list[float], dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    return (
        torch.tensor(x, dtype=dtype, requires_grad=True),
        torch.tensor(z, dtype=dtype, requires_grad=True),
    )


def _grad(tensor: torch.Tensor) -> tuple[float, ...]:
    assert tensor.grad is not None
    return tuple(tensor.grad.double().reshape(-1).tolist())


@pytest.mark.parametrize(
    "code",
    [ASSIGNMENT_CODE, ASSIGNMENT_CODE.replace("\n", "; "), f"{DEFAULT_EXPRESSION}; y = c.mean()"],
)
def test_the_assignment_code_pasted_as_is(code: str) -> None:
    x, z = _leaves([0.1, 0, 0.2, 1], [-1, 1, -1, 0], torch.float32)
    a = x + 10 % 4 + z
    a.retain_grad()
    b = a ** (4 * x)
    b.retain_grad()
    c = (b + 3) * 5
    c.retain_grad()
    y = c.mean()
    y.backward()

    trace = trace_expression("0.1,0,0.2,1", "-1,1,-1,0", code)
    assert trace.x_grad == _grad(x) and trace.z_grad == _grad(z)
    for name, tensor in (("a", a), ("b", b), ("c", c)):
        node = trace.by_name(name)
        assert node.value == tuple(tensor.detach().double().tolist())
        assert node.grad == _grad(tensor)
    assert trace.node(trace.output).name == "y" and not trace.reduced
    assert trace.check.ok
    assert heading(trace) == code.strip()


def test_program_and_default_build_the_same_graph() -> None:
    program = trace_expression(expression=ASSIGNMENT_CODE)
    default = trace_expression()  # c is reduced with mean by the workbench
    assert [(n.name, n.kind, n.value) for n in program.nodes] == [
        (n.name, n.kind, n.value) for n in default.nodes
    ]
    assert program.x_grad == default.x_grad and program.z_grad == default.z_grad
    assert default.reduced and heading(default) == f"{DEFAULT_EXPRESSION}; y = c.mean()"


def test_the_expression_form_still_traces() -> None:
    expression = trace_expression(expression="(((x + 10%4 + z) ** (4*x)) + 3) * 5")
    default = trace_expression()
    assert expression.x_grad == default.x_grad
    assert [n.kind for n in expression.nodes] == [n.kind for n in default.nodes]
    # without the student's names, nodes are named by what they compute
    assert {"x + 2", "x + 2 + z", "4x", "y"} <= {n.name for n in expression.nodes}


def _micrograd_case(trace: AutogradTrace, tensors: dict[str, torch.Tensor]) -> None:
    for name, tensor in tensors.items():
        node = trace.by_name(name)
        assert node.value == pytest.approx(tuple(tensor.detach().reshape(-1).tolist()), rel=1e-12)
        assert node.grad == pytest.approx(_grad(tensor), rel=1e-12)
    assert trace.check.ok, [r for r in trace.check.rows if "differs" in r.status]
    assert trace.hand_x_grad == pytest.approx(trace.x_grad, rel=1e-12)
    assert trace.hand_z_grad == pytest.approx(trace.z_grad, rel=1e-12)


def test_reused_intermediates_are_one_node_and_match_pytorch() -> None:
    values_x, values_z = [-4.0, 0.5, 2.0], [2.0, -1.5, 0.25]
    x, z = _leaves(values_x, values_z, torch.float64)
    a = x * z
    b = a + a
    c = b * a + b
    y = c.sum()
    for tensor in (a, b, c, y):
        tensor.retain_grad()
    y.backward()

    code = "a = x*z; b = a + a; c = b*a + b; y = c.sum()"
    trace = trace_expression(values_x, values_z, code, "float64")
    assert trace.x_grad == _grad(x) and trace.z_grad == _grad(z)
    _micrograd_case(trace, {"a": a, "b": b, "c": c, "y": y})
    assert [n.name for n in trace.nodes].count("a") == 1
    # a feeds b twice and b*a once: three contributions accumulate at a
    into_a = [local for step in trace.backward for local in step.locals if local.input_name == "a"]
    assert len(into_a) == 3
    assert "reached again" in into_a[-1].note


def test_micrograd_style_program_with_methods_and_torch_prefix() -> None:
    values_x, values_z = [-4.0, 0.5, 2.0], [2.0, -1.5, 0.25]
    x, z = _leaves(values_x, values_z, torch.float64)
    a = x * z + z**3
    b = a.relu() + (x - z).tanh()
    c = b * 2 + torch.exp(-a) / (1 + z * z)
    d = c * c + a
    y = d.mean()
    for tensor in (a, b, c, d, y):
        tensor.retain_grad()
    y.backward()

    code = (
        "a = x * z + z ** 3\n"
        "b = a.relu() + (x - z).tanh()\n"
        "c = b * 2 + torch.exp(-a) / (1 + z * z)\n"
        "d = c * c + a\n"
        "y = d.mean()\n"
        "y.backward()\n"
    )
    trace = trace_expression(values_x, values_z, code, "float64")
    _micrograd_case(trace, {"a": a, "b": b, "c": c, "d": d, "y": y})
    assert trace.x_grad == pytest.approx(_grad(x), rel=1e-12)
    assert trace.z_grad == pytest.approx(_grad(z), rel=1e-12)


def test_output_named_by_backward_and_unnamed_output() -> None:
    named = trace_expression("1,2", "3,4", "loss = (x * z).sum(); loss.backward()")
    assert trace_expression("1,2", "3,4", "a = x * z; a.sum()").node("n2").name == "y"
    assert named.node(named.output).name == "loss"
    assert named.x_grad == (3.0, 4.0)
