"""``workbench backprop``: Q2's delta-rule derivation, the autograd check, the vanishing cases."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from workbench.cli.common import HelpFormatter, emit_json, options_named, out_console

if TYPE_CHECKING:
    from workbench.engine.backprop_demo import BackpropReport

HELP = "Q2: derive Δw11 = η(t1−o1)o1(1−o1)x1, check it against autograd, vanishing cases"
DESCRIPTION = """\
A one-layer sigmoid network (x0 = 1 is the bias, outputs o1 = σ(net1), o0 = σ(net0),
loss E = ½[(t1−o1)² + (t0−o0)²]): the chain-rule steps from E to Δw11 with numbers, a
check of the formula against autograd on random float64 values (agreement to 1e-9),
and every way the update can vanish, each with a concrete example.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "backprop", help=HELP, description=DESCRIPTION, formatter_class=HelpFormatter
    )
    parser.add_argument("--trials", type=int, default=5, help="random draws for the check")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random draws")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parser


def run(args: argparse.Namespace) -> int:
    from workbench.config import check_seed
    from workbench.errors import UsageError

    if not 1 <= args.trials <= 1000:
        raise UsageError(f"--trials {args.trials}: give 1 to 1000")
    with options_named():
        check_seed(args.seed)
    # torch costs 1-2 s to import: only when the command runs.
    from workbench.engine.backprop_demo import backprop_report, delta_w_map, sigmoid_curve

    report = backprop_report(trials=args.trials, seed=args.seed)
    if args.json:
        document = report.to_dict()
        document["curve"] = sigmoid_curve(points=81).to_dict()
        document["delta_w_map"] = delta_w_map(points=21).to_dict()
        emit_json(document)
    else:
        render(report)
    return 0


def render(report: BackpropReport) -> None:
    """The rich display of the derivation, the check and the cases."""
    from rich.table import Table
    from rich.text import Text

    console = out_console
    derivation = report.derivation
    network = derivation.network
    console.print(
        Text(
            f"x = {list(network.inputs)} (x0 = 1 is the bias)   w1 = {list(network.w1)}   "
            f"w0 = {list(network.w0)}   t1 = {network.t1:g}   t0 = {network.t0:g}   "
            f"η = {network.eta:g}"
        )
    )
    steps = Table(title="Derivation of Δw11", title_justify="left", show_lines=True)
    for column in ("#", "formula", "value", "why"):
        steps.add_column(column)
    for step in derivation.steps:
        steps.add_row(
            str(step.index),
            Text(step.formula),
            f"{step.value:.6g}",
            Text(step.explanation, style="dim"),
        )
    console.print(steps)
    console.print(Text(f"In general: {derivation.general}", style="bold"))

    check = report.check
    verdict = "[green]agree[/]" if check.ok else "[red]DIFFER[/]"
    console.print(
        f"\nFormula against autograd on {len(check.trials)} random draws (float64): "
        f"largest relative difference {check.max_rel_diff:.2e}, tolerance "
        f"{check.tolerance:g}: {verdict}"
    )

    cases = Table(title="When the update vanishes", title_justify="left", show_lines=True)
    for column in ("case", "net1", "x1", "t1", "η", "o1(1−o1)", "t1−o1", "Δw11"):
        cases.add_column(column)
    for case in report.cases:
        cases.add_row(
            Text(case.title),
            f"{case.net1:g}",
            f"{case.x1:g}",
            f"{case.t1:.4g}",
            f"{case.eta:g}",
            f"{case.slope:.3g}",
            f"{case.error:.4g}",
            f"{case.delta_w11:.3g}",
        )
    console.print(cases)
    for case in report.cases:
        console.print(Text.assemble((f"• {case.title}: ", "bold"), case.explanation))
