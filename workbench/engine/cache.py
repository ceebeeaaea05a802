"""The decode cache: every image decoded once per (files, size, resize mode), kept as uint8.

One ``.npy`` file per key holds a (N, 3, S, S) uint8 array ordered like ``ScanResult.paths``.
It is written atomically (two processes building it at once both succeed; one wins the rename)
and loaded memory-mapped and copied, which takes a fraction of a second even at 256 px.
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
from workbench.engine.pool import map_chunks
from workbench.engine.progress import ProgressFn, report
from workbench.engine.sources import ImageProblem, Source, decode_image

if TYPE_CHECKING:
    from workbench.engine.data import ScanResult

CACHE_FORMAT = 1
"""Bump when decoding changes (resampling, colour conversion), so old caches are not reused."""


@dataclass(frozen=True)
class CacheResult:
    images: np.ndarray
    """uint8 (N, 3, S, S), writable, in memory."""
    path: Path | None
    hit: bool


def cache_path(scan: ScanResult, size: int, mode: str, cache_dir: Path) -> Path:
    """Where the decoded images of ``scan`` at ``size`` px and ``mode`` are kept."""
    return cache_dir / "images" / f"images-{scan.identity}-{size}px-{mode}-v{CACHE_FORMAT}.npy"


def _decode_chunk(source: Source, size: int, mode: str, paths: Sequence[str]) -> np.ndarray:
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    for i, path in enumerate(paths):
        # The scan verified this file; if it changed since, its new identity would have made
        # a new scan. Leave the slot black rather than fail a whole build.
        with contextlib.suppress(ImageProblem):
            out[i] = decode_image(source, path, size, mode)
    return out


def decode_all(
    scan: ScanResult, size: int, mode: str, progress: ProgressFn | None = None
) -> np.ndarray:
    """Decode every image of ``scan`` to uint8 (N, 3, size, size), on every core."""
    chunks = map_chunks(
        functools.partial(_decode_chunk, scan.image_source, size, mode),
        scan.paths,
        chunk_size=48,
        task=f"decoding at {size} px",
        progress=progress,
    )
    if not chunks:
        return np.zeros((0, 3, size, size), dtype=np.uint8)
    return np.concatenate(chunks, axis=0)


def load_cached(path: Path, count: int, size: int) -> np.ndarray | None:
    """The cached array if it exists and has the expected shape, else None."""
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if mapped.shape != (count, 3, size, size) or mapped.dtype != np.uint8:
        return None
    return np.array(mapped)


def load_or_build(
    scan: ScanResult,
    size: int,
    mode: str,
    cache_dir: Path,
    progress: ProgressFn | None = None,
) -> CacheResult:
    """Load the decoded images from the cache, or decode them and write the cache."""
    path = cache_path(scan, size, mode, cache_dir)
    cached = load_cached(path, len(scan.paths), size) if path.exists() else None
    if cached is not None:
        report(progress, f"decoding at {size} px", len(scan.paths), len(scan.paths))
        return CacheResult(cached, path, True)
    images = decode_all(scan, size, mode, progress)
    try:
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:
            np.save(handle, images, allow_pickle=False)
    except OSError:
        return CacheResult(images, None, False)  # read-only or full disk: work uncached
    return CacheResult(images, path, False)
