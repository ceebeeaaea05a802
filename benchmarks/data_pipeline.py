"""Where the data pipeline's time goes: check, decode, cache build and hit, batches per second.

    .venv/bin/python benchmarks/data_pipeline.py --data /path/to/animals --size 128

Uses a fresh cache folder (a temporary one unless --cache-dir is given), so the first
prepare_data is a full build and the second a hit. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from workbench.config import DataConfig
from workbench.engine.data import prepare_data
from workbench.engine.loader import BatchLoader
from workbench.engine.sources import check_image, decode_image


def _per_image_ms(data: DataConfig, sample: int) -> dict[str, float]:
    prepared = prepare_data(data)
    source = prepared.scan.image_source
    paths = prepared.scan.paths[:sample]
    out = {}
    for name, fn in (
        ("check_ms", lambda p: check_image(source, p)),
        ("decode_ms", lambda p: decode_image(source, p, data.image_size, data.resize)),
    ):
        started = time.perf_counter()
        for path in paths:
            fn(path)
        out[name] = round((time.perf_counter() - started) / len(paths) * 1000, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="folder or zip (default: the demo set)")
    parser.add_argument("--size", type=int, default=128, choices=(64, 128, 256))
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    cache = args.cache_dir or tempfile.mkdtemp(prefix="wb-bench-")
    config = DataConfig(data=args.data, image_size=args.size, cache_dir=cache)
    report: dict[str, object] = {"data": args.data or "demo", "size": args.size, "cache": cache}

    started = time.perf_counter()
    prepared = prepare_data(config)
    report["build_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    prepared = prepare_data(config)
    report["hit_s"] = round(time.perf_counter() - started, 3)
    assert prepared.cache_hit and prepared.cache_path is not None
    report["cache_mib"] = round(
        sum(p.stat().st_size for p in Path(cache).rglob("*.npy")) / 2**20, 1
    )
    report.update(_per_image_ms(config, 200))

    device = torch.device(args.device)
    for augment in ("none", "builtin", "albumentations"):
        loader = BatchLoader(
            prepared, "train", batch_size=args.batch_size, shuffle=True, augment=augment,
            seed=42, device=device, num_workers=2,
        )  # fmt: skip
        loader.set_epoch(0)
        started = time.perf_counter()
        count = sum(len(y) for _, y in loader)
        if device.type == "cuda":
            torch.cuda.synchronize()
        report[f"{augment}_img_per_s"] = round(count / (time.perf_counter() - started), 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
