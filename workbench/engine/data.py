"""The Q3 data pipeline, put together: scan, split, decode once, and hand over as tensors.

Each step lives in its own module with its types: :mod:`~workbench.engine.scan` (find and
verify images), :mod:`~workbench.engine.split` (70/10/20 split, fingerprint, ``split.csv``),
:mod:`~workbench.engine.cache` (decode once per size) and :mod:`~workbench.engine.prepared`
(the :class:`PreparedData` that :class:`~workbench.engine.loader.BatchLoader` batches). This
module only orchestrates them; none of them imports it back (an import-linter contract in
``pyproject.toml`` keeps it so).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workbench.config import DataConfig
from workbench.engine import cache as decode_cache
from workbench.engine.cachedir import resolve_cache_dir
from workbench.engine.prepared import PreparedData
from workbench.engine.progress import ProgressFn
from workbench.engine.scan import ScanResult, scan_source
from workbench.engine.sources import Source
from workbench.engine.split import SplitResult, split_dataset


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy and torch (CPU and every CUDA device) with ``seed``."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def channel_stats(
    stats: np.ndarray, indices: Sequence[int], pixels_per_image: int
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Per-channel mean and std (0..1 scale) of the images at ``indices``.

    ``stats`` is the cache's int64 (N, 2, 3) per-image channel sums and sums of squares, so
    this is exact and instant.
    """
    chosen = stats[np.asarray(indices, dtype=np.int64)]
    count = max(len(chosen) * pixels_per_image, 1)
    total = chosen[:, 0].sum(axis=0).astype(np.float64)
    squares = chosen[:, 1].sum(axis=0).astype(np.float64)
    mean = total / count
    variance = np.maximum(squares / count - mean * mean, 0.0)
    m, s = (mean / 255.0).tolist(), (np.sqrt(variance) / 255.0).tolist()
    return (m[0], m[1], m[2]), (max(s[0], 1e-6), max(s[1], 1e-6), max(s[2], 1e-6))


@dataclass(frozen=True)
class DecodedData:
    """Scan, split and decoded uint8 images as numpy: everything but torch.

    ``workbench split`` stops here, so a cache hit costs no ``import torch`` (1-2 s).
    """

    scan: ScanResult
    split: SplitResult
    cache: decode_cache.CacheResult
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _scan_and_decode(
    config: DataConfig, progress: ProgressFn | None
) -> tuple[ScanResult, decode_cache.CacheResult]:
    """Scan ``config.data``, and decode through the cache: on a first scan, in the same pass."""
    cache = resolve_cache_dir(config.cache_dir)
    size, mode = config.image_size, config.resize
    decoded: tuple[np.ndarray, np.ndarray] | None = None

    def check_and_decode(source: Source, candidates: list[str]) -> list[str | None]:
        nonlocal decoded
        reasons, images, stats = decode_cache.check_and_decode(
            source, candidates, size, mode, progress
        )
        decoded = images, stats
        return reasons

    scan = scan_source(
        config.data,
        cache,
        seed=config.seed,
        demo_per_class=config.demo_per_class,
        progress=progress,
        check=check_and_decode,
    )
    if decoded is not None:
        return scan, decode_cache.store(scan, size, mode, cache, *decoded)
    return scan, decode_cache.load_or_build(scan, size, mode, cache, progress=progress)


def decode_dataset(config: DataConfig, progress: ProgressFn | None = None) -> DecodedData:
    """Scan, split and decode (through the on-disk cache) the data set ``config`` describes."""
    config.validate()
    scan, result = _scan_and_decode(config, progress)
    split = split_dataset(scan, config.seed)
    pixels = config.image_size * config.image_size
    mean, std = channel_stats(result.stats, split.indices("train"), pixels)
    return DecodedData(scan=scan, split=split, cache=result, mean=mean, std=std)


def prepare_data(config: DataConfig, progress: ProgressFn | None = None) -> PreparedData:
    """:func:`decode_dataset`, with the images and labels as CPU tensors for training."""
    import torch

    decoded = decode_dataset(config, progress)
    return PreparedData(
        config=config,
        scan=decoded.scan,
        split=decoded.split,
        images=torch.from_numpy(decoded.cache.images),
        labels=torch.tensor(decoded.scan.labels, dtype=torch.int64),
        mean=decoded.mean,
        std=decoded.std,
        cache_path=decoded.cache.path,
        cache_hit=decoded.cache.hit,
    )


__all__ = [
    "DecodedData",
    "channel_stats",
    "decode_dataset",
    "prepare_data",
    "seed_everything",
]
