"""Q2: the delta rule of a one-layer sigmoid network, derived, checked and explored.

The network of the assignment: inputs ``x_0 = 1`` (the bias), ``x_1 … x_m``; two sigmoid
outputs ``o_j = σ(net_j)`` with ``net_j = Σ_i w_ji x_i`` for ``j = 1, 0``; targets ``t1, t0``;
loss ``E = ½[(t1 − o1)² + (t0 − o0)²]``; update ``Δw = −η ∂E/∂w``, which for ``w11`` is
``Δw11 = η (t1 − o1) o1 (1 − o1) x1``.

:func:`derive` gives the chain-rule steps with numbers, :func:`numeric_check` compares the
formula with autograd on random float64 values, :func:`vanishing_cases` gives every way the
update vanishes with a concrete example, and :func:`sigmoid_curve` / :func:`delta_w_map` give
the data for the plots. All results are frozen dataclasses with ``to_dict()``; nothing prints.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workbench.engine.jsonable import JsonRecord
from workbench.errors import UsageError

CHECK_TOLERANCE = 1e-9
"""Largest relative difference accepted between the formula and autograd (float64)."""


def sigmoid(value: float) -> float:
    """σ(v) = 1 / (1 + e^(−v)), without overflow for large |v|."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    e = math.exp(value)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Network(JsonRecord):
    """Inputs ``x = (x1, …, xm)`` (``x0 = 1`` is added), weight rows ``w1 = (w10, w11, …)``
    and ``w0 = (w00, w01, …)``, targets and learning rate."""

    x: tuple[float, ...] = (0.5, -1.0)
    w1: tuple[float, ...] = (0.1, 0.4, -0.3)
    w0: tuple[float, ...] = (-0.2, 0.2, 0.5)
    t1: float = 1.0
    t0: float = 0.0
    eta: float = 0.5

    def validate(self) -> None:
        """Raise :class:`UsageError` if the sizes do not fit or a value is not finite."""
        if len(self.x) < 1:
            raise UsageError("the network needs at least one input x1")
        for name, row in (("w1", self.w1), ("w0", self.w0)):
            if len(row) != len(self.x) + 1:
                raise UsageError(
                    f"{name} has {len(row)} weights; give {len(self.x) + 1} (bias first)"
                )
        numbers = [*self.x, *self.w1, *self.w0, self.t1, self.t0, self.eta]
        if not all(math.isfinite(v) for v in numbers):
            raise UsageError("every input, weight, target and learning rate must be finite")

    @property
    def inputs(self) -> tuple[float, ...]:
        """``(x0 = 1, x1, …)``."""
        return (1.0, *self.x)

    def net(self, row: Sequence[float]) -> float:
        """Σ_i w_i x_i for one weight row."""
        return float(sum(w * x for w, x in zip(row, self.inputs, strict=True)))


@dataclass(frozen=True)
class DerivationStep(JsonRecord):
    """One step of the derivation: a formula, its value for the given numbers, and why."""

    index: int
    quantity: str
    formula: str
    value: float
    explanation: str


@dataclass(frozen=True)
class Derivation(JsonRecord):
    network: Network
    steps: tuple[DerivationStep, ...]
    delta_w11: float
    general: str


def derive(network: Network | None = None) -> Derivation:
    """The chain-rule steps from E to Δw11 = η (t1 − o1) o1 (1 − o1) x1, with numbers."""
    net = network or Network()
    net.validate()
    x1 = net.x[0]
    net1 = net.net(net.w1)
    net0 = net.net(net.w0)
    o1, o0 = sigmoid(net1), sigmoid(net0)
    loss = 0.5 * ((net.t1 - o1) ** 2 + (net.t0 - o0) ** 2)
    d_e_o1 = -(net.t1 - o1)
    d_o1_net1 = o1 * (1 - o1)
    d_e_w11 = d_e_o1 * d_o1_net1 * x1
    delta = -net.eta * d_e_w11
    terms = " + ".join(f"w1{i}·x{i}" for i in range(len(net.inputs)))
    steps = [
        ("net1", f"net1 = {terms}", net1, "the weighted sum into output 1 (x0 = 1 is the bias)"),
        ("o1", "o1 = σ(net1) = 1/(1 + e^(−net1))", o1, "the sigmoid output"),
        ("o0", "o0 = σ(net0)", o0, f"the other output (net0 = {net0:.6g})"),
        ("E", "E = ½[(t1 − o1)² + (t0 − o0)²]", loss, "the squared-error loss"),
        (
            "∂E/∂o1",
            "∂E/∂o1 = ½·2·(t1 − o1)·(−1) = −(t1 − o1)",
            d_e_o1,
            "the ½ cancels the 2 of the square; the (t0 − o0)² term does not depend on o1",
        ),
        (
            "∂o1/∂net1",
            "∂o1/∂net1 = σ'(net1) = o1(1 − o1)",
            d_o1_net1,
            "the derivative of the sigmoid, at most 1/4 (at net1 = 0)",
        ),
        ("∂net1/∂w11", "∂net1/∂w11 = x1", x1, "only the term w11·x1 of net1 depends on w11"),
        (
            "∂E/∂w11",
            "∂E/∂w11 = ∂E/∂o1 · ∂o1/∂net1 · ∂net1/∂w11 = −(t1 − o1)·o1(1 − o1)·x1",
            d_e_w11,
            "the chain rule: w11 reaches E only through net1 and o1",
        ),
        (
            "Δw11",
            "Δw11 = −η·∂E/∂w11 = η (t1 − o1) o1 (1 − o1) x1",
            delta,
            f"gradient descent with η = {net.eta:g}; a constant factor (such as 2 without "
            "the ½) would be absorbed into η",
        ),
    ]
    return Derivation(
        network=net,
        steps=tuple(DerivationStep(i, *step) for i, step in enumerate(steps)),
        delta_w11=delta,
        general="Δw_ji = η δ_j x_i with δ_j = (t_j − o_j) o_j (1 − o_j)",
    )


def delta_w(net1: float | np.ndarray, x1: float | np.ndarray, t1: float, eta: float) -> Any:
    """Δw11 = η (t1 − o1) o1 (1 − o1) x1 with o1 = σ(net1) (scalars or numpy arrays)."""
    o1 = 1.0 / (1.0 + np.exp(-np.asarray(net1, dtype=np.float64)))
    return eta * (t1 - o1) * o1 * (1.0 - o1) * x1


@dataclass(frozen=True)
class CheckTrial(JsonRecord):
    """One random draw: Δw from the formula and from autograd, for every weight."""

    seed: int
    formula: tuple[tuple[float, ...], ...]
    autograd: tuple[tuple[float, ...], ...]
    max_rel_diff: float


@dataclass(frozen=True)
class NumericCheck(JsonRecord):
    trials: tuple[CheckTrial, ...]
    max_rel_diff: float
    tolerance: float
    ok: bool
    note: str


def numeric_check(trials: int = 5, seed: int = 0, inputs: int = 2) -> NumericCheck:
    """Compare Δw_ji = η (t_j − o_j) o_j (1 − o_j) x_i with −η ∂E/∂w_ji from autograd (float64)
    on random weights, inputs, targets and learning rates."""
    if trials < 1 or inputs < 1:
        raise UsageError("give at least one trial and one input")
    generator = np.random.default_rng(seed)
    results: list[CheckTrial] = []
    for trial in range(trials):
        x = np.concatenate([[1.0], generator.normal(size=inputs)])
        w = generator.normal(size=(2, inputs + 1))
        t = generator.uniform(size=2)
        eta = float(generator.uniform(0.01, 1.0))
        o = 1.0 / (1.0 + np.exp(-(w @ x)))
        formula = eta * ((t - o) * o * (1 - o))[:, None] * x[None, :]
        w_t = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        o_t = torch.sigmoid(w_t @ torch.tensor(x, dtype=torch.float64))
        loss = 0.5 * ((torch.tensor(t, dtype=torch.float64) - o_t) ** 2).sum()
        loss.backward()
        assert w_t.grad is not None
        auto = (-eta * w_t.grad).numpy()
        scale = np.maximum(np.maximum(np.abs(formula), np.abs(auto)), 1e-300)
        rel = float(np.max(np.abs(formula - auto) / scale))
        results.append(
            CheckTrial(
                seed=seed * 1000 + trial,
                formula=tuple(tuple(float(v) for v in row) for row in formula),
                autograd=tuple(tuple(float(v) for v in row) for row in auto),
                max_rel_diff=rel,
            )
        )
    worst = max(trial.max_rel_diff for trial in results)
    return NumericCheck(
        trials=tuple(results),
        max_rel_diff=worst,
        tolerance=CHECK_TOLERANCE,
        ok=worst <= CHECK_TOLERANCE,
        note=(
            "rows are outputs (o1, o0), columns inputs (x0 = 1, x1, …); autograd "
            "differentiates E in float64 and the formula is evaluated with numpy in float64"
        ),
    )


@dataclass(frozen=True)
class VanishingCase(JsonRecord):
    """One way the update vanishes, with the numbers that show it."""

    key: str
    title: str
    explanation: str
    net1: float
    x1: float
    t1: float
    eta: float
    o1: float
    slope: float
    error: float
    delta_w11: float
    baseline: float


BASELINE = {"net1": 0.0, "x1": 1.0, "t1": 1.0, "eta": 0.5}
"""The reference point the cases are compared with: Δw11 = 0.5·0.5·0.25·1 = 0.0625."""


def _case(key: str, title: str, explanation: str, **changes: float) -> VanishingCase:
    values = {**BASELINE, **changes}
    o1 = sigmoid(values["net1"])
    slope = o1 * (1 - o1)
    error = values["t1"] - o1
    base = float(delta_w(BASELINE["net1"], BASELINE["x1"], BASELINE["t1"], BASELINE["eta"]))
    return VanishingCase(
        key=key,
        title=title,
        explanation=explanation,
        net1=values["net1"],
        x1=values["x1"],
        t1=values["t1"],
        eta=values["eta"],
        o1=o1,
        slope=slope,
        error=error,
        delta_w11=values["eta"] * error * slope * values["x1"],
        baseline=base,
    )


def deep_stack_factors(depth: int, weight: float = 1.0) -> tuple[float, ...]:
    """∏ of w·σ'(net_l) through ``depth`` stacked sigmoid units (input 0): one value per depth."""
    products: list[float] = []
    product, value = 1.0, 0.0
    for _ in range(depth):
        net = weight * value
        out = sigmoid(net)
        product *= weight * out * (1 - out)
        products.append(product)
        value = out
    return tuple(products)


@dataclass(frozen=True)
class Float32Limits(JsonRecord):
    """Where float32 rounds the sigmoid's slope to exactly 0, as PyTorch's autograd computes it.

    ``high`` is the smallest float32 net > 0 whose gradient dσ/dnet is exactly 0 (σ rounds to
    1.0, so 1 − o is 0); ``below_high`` is the float32 just under it and ``slope_below_high``
    its (non-zero) gradient. ``low`` is the largest float32 net < 0 with a zero gradient (σ
    underflows to 0). Found by bisection over float32 bit patterns, not hard-coded.
    """

    high: float
    below_high: float
    slope_below_high: float
    low: float


def _float32_slope(net: float) -> float:
    """dσ/dnet at ``net`` by autograd in float32 (PyTorch computes it as o·(1 − o))."""
    value = torch.tensor(net, dtype=torch.float32, requires_grad=True)
    torch.sigmoid(value).backward()
    assert value.grad is not None
    return float(value.grad)


def _first_zero_slope(sign: float) -> tuple[float, float]:
    """(first float32 |net| with a zero slope, the float32 |net| just before it) on one side."""
    as_bits = np.array([0.0, 1000.0], dtype=np.float32).view(np.int32)
    good, bad = int(as_bits[0]), int(as_bits[1])  # slope > 0 at 0, == 0 at 1000 (or -1000)

    def magnitude(bits: int) -> float:
        return float(np.array(bits, dtype=np.int32).view(np.float32))

    while bad - good > 1:  # positive float32 values are ordered like their bit patterns
        middle = (good + bad) // 2
        if _float32_slope(sign * magnitude(middle)) == 0.0:
            bad = middle
        else:
            good = middle
    return magnitude(bad), magnitude(good)


@functools.cache
def float32_limits() -> Float32Limits:
    """Where PyTorch's float32 sigmoid gradient becomes exactly 0 (computed once)."""
    high, below = _first_zero_slope(1.0)
    low, _ = _first_zero_slope(-1.0)
    return Float32Limits(
        high=high, below_high=below, slope_below_high=_float32_slope(below), low=-low
    )


def _float32_case() -> VanishingCase:
    """Δw11 just past the float32 limit, by autograd in float32 (x1 = 1, so w11 = net1)."""
    limits = float32_limits()
    t1, eta = 0.0, BASELINE["eta"]
    net1 = float(math.ceil(limits.high))  # a round number past the limit, for the tables
    w11 = torch.tensor(net1, dtype=torch.float32, requires_grad=True)
    o1 = torch.sigmoid(w11 * 1.0)
    (0.5 * (t1 - o1) ** 2).backward()
    assert w11.grad is not None
    o1_value = float(o1.detach())
    delta = -eta * float(w11.grad) + 0.0  # + 0.0: no "-0" in the text
    spacing = float(np.finfo(np.float32).eps)
    return VanishingCase(
        key="float32",
        title="float32 rounds the slope to exactly 0",
        explanation=(
            f"from net1 = {limits.high:.9g} on, 1 + e^(−net1) rounds to 1 in float32 "
            f"(e^(−net1) = {math.exp(-limits.high):.3g} is at most half float32's spacing "
            f"above 1, {spacing:.3g}), so o1 = σ(net1) is exactly 1 and o1(1 − o1) exactly 0: "
            f"at net1 = {net1:g} autograd's Δw11 is {delta:g}, while float64 gives "
            f"{float(delta_w(net1, 1.0, t1, eta)):.3g}; one float32 step below the limit "
            f"(net1 = {limits.below_high:.9g}) the slope is {limits.slope_below_high:.3g}. "
            f"Towards o1 → 0 float32 holds out longer: σ only reaches 0 below net1 = "
            f"{limits.low:.9g}"
        ),
        net1=net1,
        x1=1.0,
        t1=t1,
        eta=eta,
        o1=o1_value,
        slope=o1_value * (1.0 - o1_value),
        error=t1 - o1_value,
        delta_w11=delta,
        baseline=float(delta_w(BASELINE["net1"], BASELINE["x1"], BASELINE["t1"], eta)),
    )


def vanishing_cases() -> tuple[VanishingCase, ...]:
    """Each way Δw11 = η (t1 − o1) o1 (1 − o1) x1 goes to zero, with a numeric example: one
    case per factor that can vanish, the causes of saturation, and float32's rounding."""
    stack = deep_stack_factors(10)
    return (
        _case(
            "baseline",
            "reference point",
            "net1 = 0 gives the largest slope o1(1 − o1) = 1/4; every case below changes one "
            "thing from here",
        ),
        _case(
            "saturation",
            "saturation: |net1| large",
            "o1 → 1 (or 0) and o1(1 − o1) → 0; the slope is at most 1/4 everywhere, and "
            f"at net1 = 10 it is {sigmoid(10) * (1 - sigmoid(10)):.2g}, so whatever the error the "
            "update is tiny. net1 = Σ w1i·xi grows large when the weights are large (a large "
            "initialisation, or a too-large η that pushed them there) or the inputs are "
            "(unnormalised pixels, 0 to 255)",
            net1=10.0,
            t1=0.5,
        ),
        _case(
            "o1_to_zero",
            "saturation: o1 → 0 (net1 very negative)",
            "the factor o1 itself → 0: at net1 = −10, o1 = "
            f"{sigmoid(-10):.2g} and o1(1 − o1) ≈ o1, so even the largest error t1 − o1 ≈ 1 "
            "(the target is the other end) gives almost no update",
            net1=-10.0,
            t1=1.0,
        ),
        _case(
            "large_input",
            "large input drives net1 into saturation",
            "x1 = 50 (an unnormalised pixel value) with w11 = 0.4 gives net1 = 20: x1 "
            "multiplies Δw11, but the slope o1(1 − o1) ≈ e^(−net1) falls far faster than x1 "
            "grows. Normalise the inputs and keep the initial weights small",
            net1=20.0,
            x1=50.0,
            t1=0.0,
        ),
        _case(
            "zero_input",
            "zero input x1 = 0",
            "∂net1/∂w11 = x1 = 0: w11 did not contribute to net1, so it gets no update at all",
            x1=0.0,
        ),
        _case(
            "target_reached",
            "target reached: t1 = o1",
            "the error t1 − o1 is 0: nothing to correct",
            net1=2.0,
            t1=sigmoid(2.0),
        ),
        _case(
            "tiny_eta",
            "tiny learning rate",
            "η = 1e-6 scales every update down by the same factor: learning stalls",
            eta=1e-6,
        ),
        _case(
            "wrong_side",
            "wrong-side saturation: o1 ≈ 1 while t1 = 0",
            "the error is as large as it can be (≈ −1) yet the update is almost nothing, "
            "because the slope o1(1 − o1) ≈ 4.5e-5 multiplies it; with cross-entropy the "
            f"sigmoid slope cancels and Δw11 = η (t1 − o1) x1 ≈ {0.5 * (0 - sigmoid(10)):.4g}",
            net1=10.0,
            t1=0.0,
        ),
        _float32_case(),
        VanishingCase(
            key="deep_stack",
            title="many ≤ 1/4 factors in a deeper stack",
            explanation=(
                "each sigmoid layer multiplies the gradient by w·σ'(net) ≤ w/4; with w = 1 "
                f"the product after 2, 5 and 10 layers is {stack[1]:.3g}, {stack[4]:.3g} and "
                f"{stack[9]:.3g}"
            ),
            net1=0.0,
            x1=1.0,
            t1=1.0,
            eta=BASELINE["eta"],
            o1=0.5,
            slope=stack[9],
            error=0.5,
            delta_w11=BASELINE["eta"] * 0.5 * stack[9],
            baseline=float(delta_w(0.0, 1.0, 1.0, BASELINE["eta"])),
        ),
    )


@dataclass(frozen=True)
class Curve(JsonRecord):
    """o(1 − o) against net (with o itself), for the plot."""

    net: tuple[float, ...]
    o: tuple[float, ...]
    slope: tuple[float, ...]


def sigmoid_curve(low: float = -10.0, high: float = 10.0, points: int = 201) -> Curve:
    """σ(net) and σ'(net) = o(1 − o) on an even grid."""
    net = np.linspace(low, high, points)
    o = 1.0 / (1.0 + np.exp(-net))
    return Curve(tuple(net.tolist()), tuple(o.tolist()), tuple((o * (1 - o)).tolist()))


@dataclass(frozen=True)
class PrecisionCurve(JsonRecord):
    """dσ/dnet by autograd in float32 and in float64 on the same grid (float32 hits 0)."""

    net: tuple[float, ...]
    float32: tuple[float, ...]
    float64: tuple[float, ...]


def precision_curve(low: float = -100.0, high: float = 25.0, points: int = 501) -> PrecisionCurve:
    """The sigmoid's slope as PyTorch's autograd gives it in float32 and in float64."""
    grid = torch.linspace(low, high, points, dtype=torch.float32)  # the same points for both
    slopes: dict[torch.dtype, tuple[float, ...]] = {}
    for dtype in (torch.float32, torch.float64):
        net = grid.to(dtype).clone().requires_grad_()
        torch.sigmoid(net).sum().backward()
        assert net.grad is not None
        slopes[dtype] = tuple(net.grad.double().tolist())
    return PrecisionCurve(
        tuple(grid.double().tolist()), slopes[torch.float32], slopes[torch.float64]
    )


@dataclass(frozen=True)
class DeltaMap(JsonRecord):
    """|Δw11| on a grid: ``values[i][j]`` is at ``net1[j]``, ``x1[i]``."""

    net1: tuple[float, ...]
    x1: tuple[float, ...]
    values: tuple[tuple[float, ...], ...]
    t1: float
    eta: float


def delta_w_map(
    net_range: tuple[float, float] = (-10.0, 10.0),
    x_range: tuple[float, float] = (-2.0, 2.0),
    points: int = 81,
    t1: float = 1.0,
    eta: float = 0.5,
) -> DeltaMap:
    """|Δw11| over (net1, x1) for fixed target and learning rate."""
    net1 = np.linspace(*net_range, points)
    x1 = np.linspace(*x_range, points)
    grid = np.abs(delta_w(net1[None, :], x1[:, None], t1, eta))
    return DeltaMap(
        tuple(net1.tolist()),
        tuple(x1.tolist()),
        tuple(tuple(row) for row in grid.tolist()),
        t1,
        eta,
    )


@dataclass(frozen=True)
class BackpropReport(JsonRecord):
    """Everything ``workbench backprop`` and the Backprop screen show."""

    derivation: Derivation
    check: NumericCheck
    cases: tuple[VanishingCase, ...]


def backprop_report(
    network: Network | None = None, trials: int = 5, seed: int = 0
) -> BackpropReport:
    """The derivation, the numeric check and the vanishing cases (plot data separately)."""
    return BackpropReport(derive(network), numeric_check(trials, seed), vanishing_cases())
