"""``workbench split``: scan, split and decode a data set; show counts, fingerprint, left-outs."""

from __future__ import annotations

import argparse
import time
from typing import Any

from workbench.cli.common import (
    HelpFormatter,
    add_data_options,
    check_file_option,
    data_config_from_args,
    emit_json,
    out_console,
    progress_bar,
)

HELP = "counts per class and split, the split fingerprint, split.csv"
DESCRIPTION = """\
Scan the data set (every image is opened and checked), split each class 70/10/20
(train/val/test) from its sorted paths with the seed, decode every image once at the
chosen size into the cache, and report the counts, the split's fingerprint and the files
that were left out. Two people with the same data and seed get the same fingerprint.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "split", help=HELP, description=DESCRIPTION, formatter_class=HelpFormatter
    )
    add_data_options(parser, "resize")
    parser.add_argument(
        "--out",
        metavar="CSV",
        default=None,
        help="also write the manifest (path,class,split) to this file",
    )
    parser.add_argument(
        "--no-decode",
        action="store_true",
        help="only scan and split; skip decoding into the cache",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parser


def run(args: argparse.Namespace) -> int:
    # Scanning, splitting and decoding need numpy and PIL but not torch (1-2 s to import),
    # so a cache hit answers at once.
    from workbench.engine.data import decode_dataset
    from workbench.engine.scan import scan_dataset
    from workbench.engine.split import split_dataset, write_manifest

    check_file_option("--out", args.out)
    config = data_config_from_args(args)
    started = time.perf_counter()
    with progress_bar() as progress:
        if args.no_decode:
            scan = scan_dataset(
                config.data,
                cache_dir=config.cache_dir,
                seed=config.seed,
                demo_per_class=config.demo_per_class,
                progress=progress,
            )
            split = split_dataset(scan, config.seed)
            cache: dict[str, Any] = {}
        else:
            decoded = decode_dataset(config, progress)
            scan, split, path = decoded.scan, decoded.split, decoded.cache.path
            cache = {
                "path": str(path) if path else None,
                "hit": decoded.cache.hit,
                "bytes": path.stat().st_size if path else None,
                "train_mean": list(decoded.mean),
                "train_std": list(decoded.std),
            }
    seconds = time.perf_counter() - started
    manifest = str(write_manifest(split, args.out)) if args.out else None
    document = {
        "source": scan.source,
        "seed": config.seed,
        "image_size": config.image_size,
        "resize": config.resize,
        "classes": scan.classes,
        "counts": split.counts(),
        "total": len(split.rows),
        "fingerprint": split.fingerprint,
        "skipped": [{"path": s.path, "reason": s.reason} for s in scan.skipped],
        "manifest": manifest,
        "cache": cache,
        "seconds": round(seconds, 3),
    }
    if args.json:
        emit_json(document)
    else:
        _render(document)
    return 0


def _render(doc: dict[str, Any]) -> None:
    """The rich display; names and paths are escaped, so a '[' in a file name is not markup."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{escape(doc['source'])}  ·  seed {doc['seed']}", title_justify="left")
    table.add_column("class")
    for split in ("train", "val", "test"):
        table.add_column(split, justify="right")
    table.add_column("total", justify="right")
    totals = {"train": 0, "val": 0, "test": 0}
    for name, counts in doc["counts"].items():
        for split in totals:
            totals[split] += counts[split]
        row = [str(counts[s]) for s in ("train", "val", "test")]
        table.add_row(escape(name), *row, str(sum(counts.values())))
    table.add_row(
        "[bold]all[/]", *(f"[bold]{totals[s]}[/]" for s in totals), f"[bold]{doc['total']}[/]"
    )
    out_console.print(table)
    out_console.print(f"split fingerprint  [bold cyan]{doc['fingerprint']}[/]")
    cache = doc["cache"]
    if cache:
        if cache["hit"]:
            state = "loaded from cache"
        elif cache["path"]:
            state = "decoded and cached"
        else:
            state = "decoded, [yellow]not cached[/]"
        size = f", {cache['bytes'] / 2**20:.1f} MiB" if cache["bytes"] else ""
        out_console.print(
            f"images             {doc['image_size']} px {doc['resize']}, {state}{size}"
            f" in {doc['seconds']:.2f} s"
        )
        if cache["path"]:
            out_console.print(
                f"cache              {escape(cache['path'])}", highlight=False, soft_wrap=True
            )
        else:
            from workbench.engine.cache import UNCACHED

            out_console.print(f"cache              [yellow]{UNCACHED}[/]", highlight=False)
    if doc["manifest"]:
        out_console.print(
            f"manifest           {escape(doc['manifest'])}", highlight=False, soft_wrap=True
        )
    skipped = doc["skipped"]
    if skipped:
        out_console.print(f"[yellow]{len(skipped)} file(s) left out:[/]")
        for item in skipped:
            out_console.print(
                f"  {escape(item['path'])}: {escape(item['reason'])}", highlight=False
            )
    else:
        out_console.print("left out           none")
