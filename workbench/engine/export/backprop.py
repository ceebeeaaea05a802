"""Q2 artefacts: ``backprop_derivation.md`` and ``vanishing_gradient.png``.

The figure function returns a bare Agg :class:`~matplotlib.figure.Figure` (a notebook shows it
inline) and the writer saves that same figure, so a PNG and a notebook cell never differ. The
Markdown functions return text that renders as a Jupyter Markdown cell: GFM tables with every
``|`` inside a cell escaped, and the math in ``$...$`` / ``$$...$$`` (LaTeX).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.engine.atomic import atomic_write_text
from workbench.engine.backprop_demo import (
    BackpropReport,
    Curve,
    DeltaMap,
    DerivationStep,
    backprop_report,
    deep_stack_factors,
    delta_w_map,
    float32_limits,
    precision_curve,
    sigmoid_curve,
)
from workbench.engine.export import new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DERIVATION_MD = "backprop_derivation.md"
VANISHING_PNG = "vanishing_gradient.png"


def _cell(text: str) -> str:
    """Text safe inside a GFM table cell: ``|`` escaped, no line breaks."""
    return text.replace("|", "\\|").replace("\n", " ")


_NET1 = r"\mathrm{net}_1"
_LATEX = {
    "o1": rf"o_1 = \sigma({_NET1}) = \frac{{1}}{{1 + e^{{-{_NET1}}}}}",
    "o0": r"o_0 = \sigma(\mathrm{net}_0)",
    "E": r"E = \tfrac{1}{2}\left[(t_1 - o_1)^2 + (t_0 - o_0)^2\right]",
    "∂E/∂o1": r"\frac{\partial E}{\partial o_1} = \tfrac{1}{2}\cdot 2\,(t_1 - o_1)\cdot(-1)"
    r" = -(t_1 - o_1)",
    "∂o1/∂net1": rf"\frac{{\partial o_1}}{{\partial {_NET1}}} = \sigma'({_NET1}) = o_1(1 - o_1)",
    "∂net1/∂w11": rf"\frac{{\partial {_NET1}}}{{\partial w_{{11}}}} = x_1",
    "∂E/∂w11": rf"\frac{{\partial E}}{{\partial w_{{11}}}} = \frac{{\partial E}}{{\partial o_1}}"
    rf"\,\frac{{\partial o_1}}{{\partial {_NET1}}}\,\frac{{\partial {_NET1}}}{{\partial w_{{11}}}}"
    r" = -(t_1 - o_1)\,o_1(1 - o_1)\,x_1",
    "Δw11": r"\Delta w_{11} = -\eta\,\frac{\partial E}{\partial w_{11}}"
    r" = \eta\,(t_1 - o_1)\,o_1(1 - o_1)\,x_1",
}
"""LaTeX of each derivation step, by :attr:`DerivationStep.quantity`."""


def _step_latex(step: DerivationStep, inputs: int) -> str:
    if step.quantity == "net1":
        terms = " + ".join(f"w_{{1{i}}} x_{i}" for i in range(inputs))
        return f"${_NET1} = {terms}$"
    latex = _LATEX.get(step.quantity)
    return f"${latex}$" if latex else f"`{_cell(step.formula)}`"


def backprop_derivation_markdown(report: BackpropReport) -> str:
    """The derivation from the TSS loss to Δw11 = η(t1 − o1)o1(1 − o1)x1, in LaTeX, with the
    report's numbers at every step."""
    derivation = report.derivation
    network = derivation.network
    lines = [
        "# Q2: the delta rule of a sigmoid layer",
        "",
        r"Inputs $x_i$ with $x_0 = 1$ (the bias); outputs $o_j = \sigma(\mathrm{net}_j)$ with "
        r"$\mathrm{net}_j = \sum_i w_{ji}\,x_i$ for $j = 1, 0$; the loss (TSS)",
        "",
        r"$$E = \tfrac{1}{2}\left[(t_1 - o_1)^2 + (t_0 - o_0)^2\right],"
        r"\qquad \Delta w = -\eta\,\frac{\partial E}{\partial w}.$$",
        "",
        r"The assignment's TSS writes the second term as $(t_2 - o_2)^2$; with the outputs "
        r"named $o_1, o_0$ it means $(t_0 - o_0)^2$, the other output. It does not depend on "
        r"$w_{11}$, so it drops out of $\partial E/\partial w_{11}$.",
        "",
        r"The sigmoid's derivative: $\sigma'(v) = \frac{e^{-v}}{(1 + e^{-v})^2} = "
        r"\sigma(v)\,(1 - \sigma(v))$, at most $\tfrac14$ (at $v = 0$).",
        "",
        f"Numbers used: x = {list(network.inputs)} (x0 = 1), w1 = {list(network.w1)}, "
        f"w0 = {list(network.w0)}, t1 = {network.t1:g}, t0 = {network.t0:g}, "
        f"η = {network.eta:g}.",
        "",
        "| step | formula | value | why |",
        "|---:|---|---:|---|",
    ]
    for step in derivation.steps:
        lines.append(
            f"| {step.index} | {_cell(_step_latex(step, len(network.inputs)))} | "
            f"{step.value:.6g} | {_cell(step.explanation)} |"
        )
    lines += [
        "",
        r"$$\Delta w_{11} = \eta\,(t_1 - o_1)\,o_1\,(1 - o_1)\,x_1 = "
        f"{derivation.delta_w11:.6g}$$",
        "",
        r"In general $\Delta w_{ji} = \eta\,\delta_j\,x_i$ with "
        r"$\delta_j = (t_j - o_j)\,o_j\,(1 - o_j)$.",
    ]
    return "\n".join(lines) + "\n"


def backprop_check_markdown(report: BackpropReport) -> str:
    """The formula against autograd on random draws, one table row per draw."""
    check = report.check
    lines = [
        "## Numeric check against autograd (float64)",
        "",
        "| trial | seed | Δw11 by the formula | Δw11 by autograd | max relative difference "
        "(all weights) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for i, trial in enumerate(check.trials):
        lines.append(
            f"| {i} | {trial.seed} | {trial.formula[0][1]:.10g} | {trial.autograd[0][1]:.10g} | "
            f"{trial.max_rel_diff:.2e} |"
        )
    lines += [
        "",
        f"Largest: {check.max_rel_diff:.2e} (tolerance {check.tolerance:g}): "
        f"{'agree' if check.ok else 'DIFFER'}. Δw = η (t − o) o (1 − o) x against −η ∂E/∂w "
        f"from `loss.backward()`; {_cell(check.note)}.",
    ]
    return "\n".join(lines) + "\n"


def vanishing_cases_markdown(report: BackpropReport) -> str:
    """Every way the update vanishes: one table row per case, then each explanation."""
    lines = [
        "## When the update vanishes",
        "",
        r"$\Delta w_{11} = \eta\,(t_1 - o_1)\,o_1\,(1 - o_1)\,x_1$ is a product: it vanishes "
        "when any factor does. Each case changes the reference point (net1 = 0, x1 = 1, "
        "t1 = 1, η = 0.5).",
        "",
        "| case | net1 | x1 | t1 | η | o1 | o1(1 − o1) | t1 − o1 | Δw11 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in report.cases:
        lines.append(
            f"| {_cell(case.title)} | {case.net1:.9g} | {case.x1:g} | {case.t1:.4g} | "
            f"{case.eta:g} | {case.o1:.5g} | {case.slope:.3g} | {case.error:.4g} | "
            f"{case.delta_w11:.3g} |"
        )
    lines.append("")
    lines += [f"- **{case.title}**: {case.explanation}." for case in report.cases]
    return "\n".join(lines) + "\n"


def backprop_markdown(report: BackpropReport) -> str:
    """The derivation, the numeric check and the vanishing cases as one Markdown document."""
    return "\n".join(
        [
            backprop_derivation_markdown(report),
            backprop_check_markdown(report),
            vanishing_cases_markdown(report),
        ]
    )


def write_backprop_derivation(report: BackpropReport, out_dir: str | Path) -> Path:
    """``backprop_derivation.md``."""
    return atomic_write_text(Path(out_dir) / DERIVATION_MD, backprop_markdown(report))


def _sigmoid_panel(axes: Axes, curve: Curve) -> None:
    axes.plot(curve.net, curve.o, label="o = σ(net)", color="#1f77b4")
    axes.plot(curve.net, curve.slope, label="o(1 − o) = σ'(net)", color="#d62728")
    axes.axhline(0.25, color="#999999", linestyle=":", linewidth=0.8)
    axes.text(curve.net[0], 0.26, "max 1/4", fontsize=9, color="#666666")
    axes.set_xlabel("net")
    axes.set_ylabel("σ(net) and its slope σ'(net)")
    axes.set_title("sigmoid and its slope")
    axes.legend(fontsize=9)


def _map_panel(figure: Figure, axes: Axes, delta_map: DeltaMap) -> None:
    import numpy as np
    from matplotlib.colors import LogNorm

    values = np.asarray(delta_map.values)
    floor = max(float(values[values > 0].min()) if np.any(values > 0) else 1e-12, 1e-12)
    image = axes.pcolormesh(
        delta_map.net1,
        delta_map.x1,
        np.maximum(values, floor),
        norm=LogNorm(vmin=floor, vmax=float(values.max()) or 1.0),
        shading="auto",
        cmap="viridis",
    )
    figure.colorbar(image, ax=axes, label="|Δw11|")
    axes.set_xlabel("net1")
    axes.set_ylabel("x1")
    axes.set_title(f"|Δw11| (t1 = {delta_map.t1:g}, η = {delta_map.eta:g})")


def _precision_panel(axes: Axes) -> None:
    import numpy as np

    curve, limits = precision_curve(), float32_limits()
    net = np.asarray(curve.net)
    slope32 = np.asarray(curve.float32)
    axes.semilogy(net, curve.float64, color="#1f77b4", label="float64")
    axes.semilogy(  # exact zeros cannot be drawn on a log axis: they are the gaps
        net,
        np.where(slope32 > 0, slope32, np.nan),
        color="#d62728",
        linestyle="--",
        label="float32",
    )
    for where, outside in ((limits.high, "left"), (limits.low, "right")):  # labels outside
        axes.axvline(where, color="#d62728", linestyle=":", linewidth=1.0)
        axes.text(
            where,
            1e-24,
            f" float32: 0 from net = {where:.4g} ",
            fontsize=9,
            color="#d62728",
            rotation=90,
            ha=outside,
            va="center",
        )
    axes.set_xlabel("net")
    axes.set_ylabel("σ'(net) by autograd")
    axes.set_title("float32 rounds the slope to exactly 0")
    axes.legend(fontsize=9, loc="lower center")


def _stack_panel(axes: Axes, depth: int = 10) -> None:
    factors = deep_stack_factors(depth)
    axes.semilogy(range(1, depth + 1), factors, marker="o", color="#2ca02c", label="w = 1")
    axes.semilogy(
        range(1, depth + 1),
        [0.25**k for k in range(1, depth + 1)],
        linestyle="--",
        color="#999999",
        label="(1/4)^depth",
    )
    axes.set_xlabel("sigmoid layers")
    axes.set_ylabel("∏ w·σ'(net)")
    axes.set_title("gradient factor through a stack (w = 1)")
    axes.legend(fontsize=9)


def vanishing_gradient_figure(
    curve: Curve | None = None, delta_map: DeltaMap | None = None
) -> Figure:
    """o(1 − o) against net, |Δw11| over (net1, x1), the slope in float32 against float64, and
    the product of sigmoid slopes through a deeper stack, as one 2 × 2 figure."""
    figure = new_figure(12, 9)
    (top_left, top_right), (bottom_left, bottom_right) = figure.subplots(2, 2)
    _sigmoid_panel(top_left, curve or sigmoid_curve())
    _map_panel(figure, top_right, delta_map or delta_w_map())
    _precision_panel(bottom_left)
    _stack_panel(bottom_right)
    figure.tight_layout()
    return figure


def write_vanishing_gradient(
    out_dir: str | Path, curve: Curve | None = None, delta_map: DeltaMap | None = None
) -> Path:
    """``vanishing_gradient.png``: :func:`vanishing_gradient_figure`, saved."""
    return save_figure(vanishing_gradient_figure(curve, delta_map), Path(out_dir) / VANISHING_PNG)


def write_backprop_artefacts(
    out_dir: str | Path, report: BackpropReport | None = None
) -> list[Path]:
    """All Q2 artefacts; returns every path written."""
    report = report or backprop_report()
    return [write_backprop_derivation(report, out_dir), write_vanishing_gradient(out_dir)]
