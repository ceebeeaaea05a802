"""Q2: the delta-rule derivation, the check against autograd, the vanishing cases."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.engine.backprop_demo import (
    CHECK_TOLERANCE,
    Network,
    backprop_report,
    deep_stack_factors,
    delta_w,
    delta_w_map,
    derive,
    numeric_check,
    sigmoid,
    sigmoid_curve,
    vanishing_cases,
)
from workbench.errors import UsageError


def _autograd_delta_w11(net: Network) -> float:
    w1 = torch.tensor(net.w1, dtype=torch.float64, requires_grad=True)
    w0 = torch.tensor(net.w0, dtype=torch.float64)
    x = torch.tensor(net.inputs, dtype=torch.float64)
    o1, o0 = torch.sigmoid(w1 @ x), torch.sigmoid(w0 @ x)
    loss = 0.5 * ((net.t1 - o1) ** 2 + (net.t0 - o0) ** 2)
    loss.backward()
    assert w1.grad is not None
    return float(-net.eta * w1.grad[1])


def test_derivation_steps_and_value() -> None:
    derivation = derive()
    quantities = [step.quantity for step in derivation.steps]
    assert quantities[-4:] == ["∂o1/∂net1", "∂net1/∂w11", "∂E/∂w11", "Δw11"]
    by_name = {step.quantity: step for step in derivation.steps}
    o1 = by_name["o1"].value
    assert by_name["∂o1/∂net1"].value == pytest.approx(o1 * (1 - o1))
    assert by_name["∂o1/∂net1"].formula.endswith("o1(1 − o1)")
    assert by_name["∂net1/∂w11"].value == Network().x[0]
    assert "η (t1 − o1) o1 (1 − o1) x1" in by_name["Δw11"].formula
    assert "absorbed into η" in by_name["Δw11"].explanation
    assert derivation.delta_w11 == pytest.approx(_autograd_delta_w11(Network()), rel=1e-12)
    json.dumps(derivation.to_dict(), allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(-3, 3), min_size=9, max_size=9),
    targets=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    eta=st.floats(0.001, 2),
)
def test_formula_matches_autograd(
    values: list[float], targets: tuple[float, float], eta: float
) -> None:
    net = Network(
        x=tuple(values[:2]),
        w1=tuple(values[2:5]),
        w0=tuple(values[5:8]),
        t1=targets[0],
        t0=targets[1],
        eta=eta,
    )
    formula = derive(net).delta_w11
    auto = _autograd_delta_w11(net)
    assert formula == pytest.approx(auto, rel=1e-9, abs=1e-15)


def test_numeric_check_agrees_to_1e9() -> None:
    check = numeric_check(trials=10, seed=3, inputs=3)
    assert check.ok and check.tolerance == CHECK_TOLERANCE == 1e-9
    assert check.max_rel_diff < 1e-12
    assert len(check.trials[0].formula) == 2 and len(check.trials[0].formula[0]) == 4
    with pytest.raises(UsageError):
        numeric_check(trials=0)


def test_vanishing_cases_have_numbers() -> None:
    cases = {case.key: case for case in vanishing_cases()}
    assert set(cases) >= {
        "saturation",
        "zero_input",
        "target_reached",
        "tiny_eta",
        "wrong_side",
        "deep_stack",
    }
    baseline = cases["baseline"].delta_w11
    assert baseline == pytest.approx(0.0625) and cases["baseline"].slope == 0.25
    assert cases["saturation"].slope < 1e-4
    assert cases["zero_input"].delta_w11 == 0.0
    assert cases["target_reached"].delta_w11 == pytest.approx(0.0, abs=1e-15)
    assert abs(cases["tiny_eta"].delta_w11) < 1e-6
    wrong = cases["wrong_side"]
    assert wrong.error < -0.99 and abs(wrong.delta_w11) < 1e-4 * abs(wrong.error)
    assert "cross-entropy" in wrong.explanation
    assert cases["deep_stack"].slope < 0.25**10 * 2
    for case in cases.values():
        assert case.key == "baseline" or abs(case.delta_w11) < abs(baseline) / 100


def test_slope_never_exceeds_a_quarter_and_plot_data() -> None:
    curve = sigmoid_curve()
    assert max(curve.slope) == pytest.approx(0.25)
    assert all(s <= 0.25 for s in curve.slope)
    factors = deep_stack_factors(5)
    assert all(b < a for a, b in itertools.pairwise(factors))
    dmap = delta_w_map(points=11)
    grid = np.asarray(dmap.values)
    assert grid.shape == (11, 11)
    assert grid[5].max() == 0.0  # x1 = 0 row
    assert grid[:, 0].max() < grid[:, 5].max()  # saturated net1 = -10 column
    assert float(delta_w(0.0, 1.0, 1.0, 0.5)) == pytest.approx(0.0625)
    assert sigmoid(-800.0) == 0.0 and sigmoid(800.0) == 1.0


def test_report_is_strict_json_and_validates() -> None:
    json.dumps(backprop_report(trials=2).to_dict(), allow_nan=False)
    with pytest.raises(UsageError, match="w1"):
        derive(Network(x=(1.0,), w1=(1.0,), w0=(1.0, 2.0)))
