"""Q2 artefacts: ``backprop_derivation.md`` and ``vanishing_gradient.png``."""

from __future__ import annotations

from pathlib import Path

from workbench.engine.atomic import atomic_write_text
from workbench.engine.backprop_demo import (
    BackpropReport,
    Curve,
    DeltaMap,
    backprop_report,
    deep_stack_factors,
    delta_w_map,
    sigmoid_curve,
)
from workbench.engine.export import new_figure, save_figure

DERIVATION_MD = "backprop_derivation.md"
VANISHING_PNG = "vanishing_gradient.png"


def backprop_markdown(report: BackpropReport) -> str:
    """The derivation, the numeric check and the vanishing cases as Markdown."""
    derivation, check = report.derivation, report.check
    network = derivation.network
    lines = [
        "# Q2: the delta rule of a sigmoid layer",
        "",
        "Inputs x_i with x_0 = 1 (bias); outputs o_j = σ(net_j), net_j = Σ_i w_ji x_i; "
        "loss E = ½[(t1 − o1)² + (t0 − o0)²]; update Δw = −η ∂E/∂w.",
        "",
        f"Numbers used: x = {list(network.inputs)}, w1 = {list(network.w1)}, "
        f"w0 = {list(network.w0)}, t1 = {network.t1:g}, t0 = {network.t0:g}, "
        f"η = {network.eta:g}.",
        "",
        "| step | quantity | formula | value | why |",
        "|---:|---|---|---:|---|",
    ]
    for step in derivation.steps:
        lines.append(
            f"| {step.index} | {step.quantity} | {step.formula} | {step.value:.6g} | "
            f"{step.explanation} |"
        )
    lines += [
        "",
        f"**Δw11 = η (t1 − o1) o1 (1 − o1) x1 = {derivation.delta_w11:.6g}**; "
        f"in general {derivation.general}.",
        "",
        "## Numeric check against autograd (float64)",
        "",
        "| trial | max relative difference |",
        "|---:|---:|",
    ]
    lines += [f"| {i} | {trial.max_rel_diff:.2e} |" for i, trial in enumerate(check.trials)]
    lines += [
        "",
        f"Largest: {check.max_rel_diff:.2e} (tolerance {check.tolerance:g}): "
        f"{'agree' if check.ok else 'DIFFER'}. {check.note}.",
        "",
        "## When the update vanishes",
        "",
        "| case | net1 | x1 | t1 | η | o1 | o1(1 − o1) | t1 − o1 | Δw11 | explanation |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case in report.cases:
        lines.append(
            f"| {case.title} | {case.net1:g} | {case.x1:g} | {case.t1:.4g} | {case.eta:g} | "
            f"{case.o1:.5g} | {case.slope:.3g} | {case.error:.4g} | {case.delta_w11:.3g} | "
            f"{case.explanation} |"
        )
    return "\n".join(lines) + "\n"


def write_backprop_derivation(report: BackpropReport, out_dir: str | Path) -> Path:
    """``backprop_derivation.md``."""
    return atomic_write_text(Path(out_dir) / DERIVATION_MD, backprop_markdown(report))


def write_vanishing_gradient(
    out_dir: str | Path, curve: Curve | None = None, delta_map: DeltaMap | None = None
) -> Path:
    """``vanishing_gradient.png``: o(1 − o) against net, |Δw11| over (net1, x1), and the
    product of sigmoid slopes through a deeper stack."""
    import numpy as np
    from matplotlib.colors import LogNorm

    curve = curve or sigmoid_curve()
    delta_map = delta_map or delta_w_map()
    figure = new_figure(15, 4.2)
    left, middle, right = figure.subplots(1, 3)
    left.plot(curve.net, curve.o, label="o = σ(net)", color="#1f77b4")
    left.plot(curve.net, curve.slope, label="o(1 − o)", color="#d62728")
    left.axhline(0.25, color="#999999", linestyle=":", linewidth=0.8)
    left.text(curve.net[0], 0.26, "max 1/4", fontsize=8, color="#666666")
    left.set_xlabel("net")
    left.set_title("sigmoid and its slope")
    left.legend(fontsize=8)
    values = np.asarray(delta_map.values)
    floor = max(float(values[values > 0].min()) if np.any(values > 0) else 1e-12, 1e-12)
    image = middle.pcolormesh(
        delta_map.net1,
        delta_map.x1,
        np.maximum(values, floor),
        norm=LogNorm(vmin=floor, vmax=float(values.max()) or 1.0),
        shading="auto",
        cmap="viridis",
    )
    figure.colorbar(image, ax=middle, label="|Δw11|")
    middle.set_xlabel("net1")
    middle.set_ylabel("x1")
    middle.set_title(f"|Δw11| (t1 = {delta_map.t1:g}, η = {delta_map.eta:g})")
    depth = 10
    factors = deep_stack_factors(depth)
    right.semilogy(range(1, depth + 1), factors, marker="o", color="#2ca02c")
    right.semilogy(
        range(1, depth + 1),
        [0.25**k for k in range(1, depth + 1)],
        linestyle="--",
        color="#999999",
        label="(1/4)^depth",
    )
    right.set_xlabel("sigmoid layers")
    right.set_ylabel("∏ w·σ'(net)")
    right.set_title("gradient factor through a stack (w = 1)")
    right.legend(fontsize=8)
    figure.tight_layout()
    return save_figure(figure, Path(out_dir) / VANISHING_PNG)


def write_backprop_artefacts(
    out_dir: str | Path, report: BackpropReport | None = None
) -> list[Path]:
    """All Q2 artefacts; returns every path written."""
    report = report or backprop_report()
    return [write_backprop_derivation(report, out_dir), write_vanishing_gradient(out_dir)]
