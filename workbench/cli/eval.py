"""``workbench eval RUN_OR_CHECKPOINT``: test metrics and a coloured confusion matrix.

Loads the run's best.pt (or the given checkpoint) with ``weights_only=True`` -- a pickle that
would run code is refused before anything in it runs -- rebuilds the model from the saved config,
predicts the untouched test split and writes ``test_report.txt`` and ``test_report.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.common import (
    HelpFormatter,
    emit_json,
    err_console,
    options_named,
    out_console,
    progress_bar,
)
from workbench.config import check_data_path

if TYPE_CHECKING:
    from workbench.engine.evaluate import TestReport

HELP = "test metrics of a run or checkpoint on the untouched test split, confusion matrix"
DESCRIPTION = """\
Load a run directory's best checkpoint (or any checkpoint file) on the fly, rebuild
the model from its saved config, predict the test split (never used in training) and
print accuracy, per-class and macro precision/recall/F1, the confusion matrix and the
most-confused pairs. Writes test_report.txt and test_report.json into --out.

A checkpoint from a model with other classes or another architecture fails with one
line saying what does not match (exit code 2); a file that is not a checkpoint, or a
pickle that would run code, is refused without running anything.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "eval", help=HELP, description=DESCRIPTION, formatter_class=HelpFormatter
    )
    parser.add_argument(
        "source", metavar="RUN_OR_CHECKPOINT", help="a run directory or a checkpoint (.pt) file"
    )
    parser.add_argument(
        "--data",
        metavar="DIR|ZIP",
        default=None,
        help="the data set, if it moved since training (default: the path in the run's config)",
    )
    parser.add_argument(
        "--cache-dir", metavar="DIR", default=None, help="decoded-image cache folder"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="where test_report.* go (default: exports/<run-id>/)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parser


def run(args: argparse.Namespace) -> int:
    # torch and the engine cost 1-2 s to import; only this command pays for them.
    from workbench.cli.export import EXPORTS_ROOT, check_writable
    from workbench.engine.device import resolve_device
    from workbench.engine.evaluate import evaluate, evaluation_data_config, load_model
    from workbench.engine.export.evaluation import write_test_report

    with options_named():
        check_data_path(args.data)
        device = resolve_device(args.device)
    loaded = load_model(args.source, device=device)
    out = Path(args.out) if args.out else EXPORTS_ROOT / loaded.name
    check_writable(out)
    config = evaluation_data_config(loaded, args.data, args.cache_dir)
    from workbench.engine.data import prepare_data

    with progress_bar() as progress:
        data = prepare_data(config, progress)
        evaluation = evaluate(loaded, data, explained=0, progress=progress)
    written = write_test_report(evaluation.report, out)
    if args.json:
        document = evaluation.report.to_dict()
        document["files"] = [str(p) for p in written]
        emit_json(document)
    else:
        render(evaluation.report)
        out_console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    if not evaluation.report.fingerprint_matches:
        err_console.print(
            "[yellow]warning:[/] the data's split differs from the one the model was trained "
            f"on ({evaluation.report.split_fingerprint} vs "
            f"{evaluation.report.checkpoint_fingerprint}); test images may have been trained on",
            highlight=False,
        )
    return 0


def _cell_style(share: float, diagonal: bool) -> str:
    """Green shades on the diagonal (more is better), red off it (more is worse)."""
    level = min(int(share * 5), 4)
    if diagonal:
        return ["", "on #1f3d1f", "on #2e5c2e", "on #3d7a3d", "bold white on #2e8b2e"][level]
    return ["", "on #4a1f1f", "on #6b2424", "on #8c2a2a", "bold white on #b22222"][level]


def render(report: TestReport) -> None:
    """Rich tables: the summary, the per-class metrics and the coloured confusion matrix."""
    from rich.table import Table

    console = out_console
    console.print(
        f"[bold]run {report.run_id}[/]  checkpoint epoch {report.checkpoint_epoch}  "
        f"data {report.data}  split {report.split_fingerprint}  {report.count} test images",
        highlight=False,
    )
    summary = Table(show_header=True, header_style="bold", title="test metrics")
    for column in ("accuracy", "loss (CE)", "precision", "recall", "f1"):
        summary.add_column(column, justify="right")
    summary.add_row(
        *(
            f"{v:.4f}"
            for v in (report.accuracy, report.loss, report.precision, report.recall, report.f1)
        )
    )
    console.print(summary)
    per_class = Table(show_header=True, header_style="bold", title="per class")
    per_class.add_column("class")
    for column in ("precision", "recall", "f1", "support"):
        per_class.add_column(column, justify="right")
    for row in report.per_class:
        per_class.add_row(
            row.name, f"{row.precision:.4f}", f"{row.recall:.4f}", f"{row.f1:.4f}", str(row.support)
        )
    console.print(per_class)
    matrix = Table(
        show_header=True, header_style="bold", title="confusion matrix (rows true, cols predicted)"
    )
    matrix.add_column("true \\ pred", style="bold")
    for name in report.classes:
        matrix.add_column(name, justify="right")
    for t, name in enumerate(report.classes):
        cells = []
        for p in range(len(report.classes)):
            count = report.confusion[t][p]
            share = report.confusion_normalized[t][p]
            style = _cell_style(share, t == p)
            text = f"{count} ({share:.0%})"
            cells.append(f"[{style}]{text}[/]" if style else text)
        matrix.add_row(name, *cells)
    console.print(matrix)
    if report.most_confused:
        pair = report.most_confused[0]
        console.print(
            f"most confused: [bold]{pair.true} → {pair.predicted}[/] "
            f"{pair.count} images ({pair.rate:.1%} of {pair.true})",
            highlight=False,
        )
