"""``workbench bench``: input pipeline vs compute-only training throughput."""

from __future__ import annotations

import argparse
import math
from typing import Any

from workbench.cli.common import (
    HelpFormatter,
    add_data_options,
    data_config_from_args,
    emit_json,
    options_named,
    out_console,
    progress_bar,
)
from workbench.errors import UsageError

HELP = "input pipeline vs compute-only throughput (images per second)"
DESCRIPTION = """\
Train the default model for a fixed number of batches three ways and print images per
second for each: (1) the notebook pipeline (torchvision ImageFolder, PIL decode of every
JPEG every epoch, per-sample albumentations in DataLoader workers), (2) the workbench
pipeline (decode cache + batched augmentation on the device; on a CPU the next batch is made
on a background thread), (3) the model's forward and backward pass alone on a batch already
in memory. Then the ratios (2)/(1) and (2)/(3). All three train the same model with the same
precision and memory format (what `workbench train` would use here), so the ratios measure
the input pipelines alone.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "bench", help=HELP, description=DESCRIPTION, formatter_class=HelpFormatter
    )
    add_data_options(parser)
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch")
    parser.add_argument("--batches", type=int, default=10, help="timed batches per pipeline")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps")
    parser.add_argument(
        "--num-workers", type=int, default=2, help="DataLoader workers of the notebook pipeline"
    )
    parser.add_argument(
        "--nproc-per-node",
        metavar="N",
        type=int,
        default=1,
        help="instead: the workbench pipeline on 1 process with every core's thread vs N "
        "processes (DistributedDataParallel, gloo on the CPU) with 1/N of them each, "
        "side by side (default: 1, the three pipelines)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parser


def run(args: argparse.Namespace) -> int:
    from workbench.cli.tuning import prepare_training_process

    prepare_training_process()  # the same process settings as `workbench train`
    # torch, torchvision and albumentations cost a few seconds to import; only bench pays.
    from workbench.config import TrainConfig
    from workbench.engine.bench import run_bench

    if not 1 <= args.batches <= 10_000:
        raise UsageError(f"--batches: must be in 1..10000, got {args.batches}")
    if not 0 <= args.warmup <= 100:
        raise UsageError(f"--warmup: must be in 0..100, got {args.warmup}")
    with options_named():
        TrainConfig(
            batch_size=args.batch_size,
            device=args.device,
            num_workers=args.num_workers,
            nproc_per_node=args.nproc_per_node,
        ).validate()
    data = data_config_from_args(args)
    if args.nproc_per_node > 1:
        return _scaling(args, data)
    with progress_bar() as progress:
        result = run_bench(
            data,
            batch_size=args.batch_size,
            batches=args.batches,
            warmup=args.warmup,
            device=args.device,
            num_workers=args.num_workers,
            progress=progress,
        )
    if args.json:
        emit_json(result.to_dict())
        return 0
    from rich.table import Table

    table = Table(
        title=f"training throughput, {result.image_size} px, batch {result.batch_size}, "
        f"{result.device}",
        header_style="bold",
    )
    table.add_column("pipeline")
    table.add_column("what")
    table.add_column("img/s", justify="right")
    table.add_column("timed", justify="right")
    for number, row in enumerate(result.rows, start=1):
        rate = f"{row.images_per_second:.1f}" if math.isfinite(row.images_per_second) else "n/a"
        table.add_row(
            f"({number}) {row.pipeline}",
            row.description + (f" [{row.note}]" if row.note else ""),
            rate,
            f"{row.images} img / {row.seconds:.1f}s",
        )
    out_console.print(table)
    vs_notebook = result.workbench_vs_notebook
    out_console.print(
        "(2)/(1) workbench vs notebook: "
        + (f"[bold]{vs_notebook:.2f}x[/]" if vs_notebook is not None else "n/a")
        + f"    (2)/(3) workbench vs compute alone: [bold]{result.workbench_vs_compute:.0%}[/]",
        highlight=False,
    )
    out_console.print(
        f"model {result.model_params / 1e6:.2f} M params, "
        f"{result.model_mult_adds / 1e6:.0f} M mult-adds/img; data {result.data}; "
        f"cache {'hit' if result.cache_hit else 'built'} in {result.prepare_seconds:.1f}s",
        highlight=False,
    )
    return 0


def _scaling(args: argparse.Namespace, data: Any) -> int:
    """One process with all the threads vs N processes with their share, side by side."""
    from rich.table import Table

    from workbench.engine.bench_distributed import run_scaling_bench

    with progress_bar():  # the spinner while the processes start and train
        result = run_scaling_bench(
            data,
            nproc=args.nproc_per_node,
            batch_size=args.batch_size,
            batches=args.batches,
            warmup=args.warmup,
            device=args.device,
        )
    if args.json:
        emit_json(result.to_dict())
        return 0
    table = Table(
        title=f"processes vs threads, {result.image_size} px, global batch "
        f"{result.batch_size}, {result.device}",
        header_style="bold",
    )
    for column in ("processes x threads", "img/s", "timed"):
        table.add_column(column, justify="right")
    for row in result.rows:
        table.add_row(
            f"{row.processes} x {row.threads_per_process}",
            f"{row.images_per_second:.1f}",
            f"{row.images} img / {row.seconds:.1f}s",
        )
    out_console.print(table)
    out_console.print(f"processes / one process: [bold]{result.speedup:.2f}x[/]")
    return 0
