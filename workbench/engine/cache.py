"""The decode cache: every image decoded once per (files, size, resize mode), kept as uint8.

One ``.npy`` file per key holds a (N, 3, S, S) uint8 array ordered like ``ScanResult.paths``.
A small ``-stats.npy`` beside it holds exact per-image channel sums, so the training split's
mean and std cost nothing on a hit. Both are written atomically (two processes building the
same cache both succeed; one wins the rename) and loaded memory-mapped (copy-on-write), so a
hit costs milliseconds even at 256 px.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.engine.atomic import atomic_path
from workbench.engine.cachedir import remove_stale
from workbench.engine.pool import imap_chunks
from workbench.engine.progress import ProgressFn, report
from workbench.engine.sources import ImageProblem, Source, decode_image, decode_or_reason

if TYPE_CHECKING:
    from workbench.engine.scan import ScanResult

CACHE_FORMAT = 1
"""Bump when decoding changes (resampling, colour conversion), so old caches are not reused."""


@dataclass(frozen=True)
class CacheResult:
    images: np.ndarray
    """uint8 (N, 3, S, S); writable (copy-on-write when memory-mapped from the cache)."""
    stats: np.ndarray
    """int64 (N, 2, 3): per image and channel, the sum of pixel values and of their squares."""
    path: Path | None
    hit: bool


def cache_path(scan: ScanResult, size: int, mode: str, cache_dir: Path) -> Path:
    """Where the decoded images of ``scan`` at ``size`` px and ``mode`` are kept."""
    return cache_dir / "images" / f"images-{scan.identity}-{size}px-{mode}-v{CACHE_FORMAT}.npy"


def stats_path(images_path: Path) -> Path:
    return images_path.with_name(images_path.stem + "-stats.npy")


def image_stats(images: np.ndarray) -> np.ndarray:
    """int64 (N, 2, 3) exact per-image channel sums and sums of squares of uint8 images."""
    out = np.empty((images.shape[0], 2, 3), dtype=np.int64)
    for i in range(images.shape[0]):
        pixels = images[i].reshape(3, -1).astype(np.int64)
        out[i, 0] = pixels.sum(axis=1)
        out[i, 1] = np.einsum("ij,ij->i", pixels, pixels)
    return out


def _decode_chunk(
    source: Source, size: int, mode: str, paths: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    for i, path in enumerate(paths):
        # The scan verified this file; if it changed since, its new identity would have made
        # a new scan. Leave the slot black rather than fail a whole build.
        with contextlib.suppress(ImageProblem):
            out[i] = decode_image(source, path, size, mode)
    return out, image_stats(out)


def decode_all(
    scan: ScanResult, size: int, mode: str, progress: ProgressFn | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Decode every image of ``scan`` to uint8 (N, 3, size, size), on every core.

    Returns the images and their :func:`image_stats`.
    """
    count = len(scan.paths)
    images = np.empty((count, 3, size, size), dtype=np.uint8)
    stats = np.empty((count, 2, 3), dtype=np.int64)
    for start, (chunk, chunk_stats) in imap_chunks(
        functools.partial(_decode_chunk, scan.image_source, size, mode),
        scan.paths,
        chunk_size=48,
        task=f"decoding at {size} px",
        progress=progress,
    ):
        images[start : start + len(chunk)] = chunk
        stats[start : start + len(chunk)] = chunk_stats
    return images, stats


def _check_decode_chunk(
    source: Source, size: int, mode: str, paths: Sequence[str]
) -> tuple[list[str | None], np.ndarray, np.ndarray]:
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    reasons: list[str | None] = []
    for i, path in enumerate(paths):
        result = decode_or_reason(source, path, size, mode)
        if isinstance(result, str):
            reasons.append(result)
        else:
            out[i] = result
            reasons.append(None)
    usable = out[[i for i, reason in enumerate(reasons) if reason is None]]
    return reasons, usable, image_stats(usable)


def check_and_decode(
    source: Source,
    paths: Sequence[str],
    size: int,
    mode: str,
    progress: ProgressFn | None = None,
) -> tuple[list[str | None], np.ndarray, np.ndarray]:
    """Check and decode every file in one pass (a first scan that will decode anyway).

    Returns the reason each path cannot be used (None: usable), and the usable images, in
    order, with their :func:`image_stats`. Decoding at the target size checks the whole
    JPEG stream just as the scan's reduced-scale check does, so the same files are left out.
    """
    images = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    stats = np.empty((len(paths), 2, 3), dtype=np.int64)
    reasons: list[str | None] = []
    filled = 0
    for _, (chunk_reasons, chunk, chunk_stats) in imap_chunks(
        functools.partial(_check_decode_chunk, source, size, mode),
        paths,
        chunk_size=48,
        task=f"checking + decoding at {size} px",
        progress=progress,
    ):
        images[filled : filled + len(chunk)] = chunk
        stats[filled : filled + len(chunk)] = chunk_stats
        filled += len(chunk)
        reasons.extend(chunk_reasons)
    return reasons, images[:filled], stats[:filled]


UNCACHED = "the cache folder could not be written (full, or read-only?); --cache-dir picks another"
"""Why decoded images were not cached: every run decodes them again until this is mended."""


def load_cached(path: Path, count: int, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached images (memory-mapped copy-on-write) and stats, or None if unusable."""
    try:
        images = np.load(path, mmap_mode="c", allow_pickle=False)
        stats = np.load(stats_path(path), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if images.shape != (count, 3, size, size) or images.dtype != np.uint8:
        return None
    if stats.shape != (count, 2, 3) or stats.dtype != np.int64:
        return None
    return images, stats


def _save(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def load_or_build(
    scan: ScanResult,
    size: int,
    mode: str,
    cache_dir: Path,
    progress: ProgressFn | None = None,
) -> CacheResult:
    """Load the decoded images from the cache, or decode them and write the cache.

    The stats file is written before the images file, so an images file never exists
    without its stats (a crash in between only costs a rebuild).
    """
    path = cache_path(scan, size, mode, cache_dir)
    cached = load_cached(path, len(scan.paths), size) if path.exists() else None
    if cached is not None:
        report(progress, f"decoding at {size} px", len(scan.paths), len(scan.paths))
        return CacheResult(cached[0], cached[1], path, True)
    images, stats = decode_all(scan, size, mode, progress)
    return store(scan, size, mode, cache_dir, images, stats)


def store(
    scan: ScanResult, size: int, mode: str, cache_dir: Path, images: np.ndarray, stats: np.ndarray
) -> CacheResult:
    """Write decoded images and their stats into the cache (the stats first)."""
    path = cache_path(scan, size, mode, cache_dir)
    if path.parent.is_dir():
        remove_stale(path.parent, ".images-*.tmp.npy")  # left by killed builds (100s of MB)
    try:
        _save(stats_path(path), stats)
        _save(path, images)
    except OSError:  # read-only or full disk: the run goes on uncached
        with contextlib.suppress(OSError):
            stats_path(path).unlink(missing_ok=True)
        return CacheResult(images, stats, None, False)
    return CacheResult(images, stats, path, False)
