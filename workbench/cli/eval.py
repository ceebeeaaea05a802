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


def render(report: TestReport) -> None:
    """The provenance line, then the same tables the Evaluate screen shows."""
    from workbench.render.evaluation import confused_pairs, confusion_table, metrics_table

    out_console.print(
        f"[bold]run {report.run_id}[/]  checkpoint epoch {report.checkpoint_epoch}  "
        f"data {report.data}  split {report.split_fingerprint}  {report.count} test images",
        highlight=False,
    )
    out_console.print(metrics_table(report))
    out_console.print(confusion_table(report))
    out_console.print(confused_pairs(report))
