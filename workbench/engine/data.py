"""The Q3 data pipeline: find and scan an image folder or zip, split it, decode it once.

``scan_dataset`` lists and verifies every image (left-out files are reported, never fatal),
``split_dataset`` makes the per-class 70/10/20 split and its fingerprint, ``write_manifest``
writes ``split.csv``, and ``prepare_data`` puts it together with the decode cache into a
:class:`PreparedData` that ``make_loader`` turns into batches (see ``workbench.engine.loader``).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import io
import json
import random
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.config import DataConfig, check_data_path
from workbench.engine.atomic import atomic_write_text
from workbench.engine.pool import map_chunks
from workbench.engine.progress import ProgressFn
from workbench.engine.sources import Entry, Source, check_chunk, open_source
from workbench.errors import DataError

if TYPE_CHECKING:
    import torch

    from workbench.engine.cache import CacheResult
    from workbench.engine.loader import BatchLoader

SPLITS = ("train", "val", "test")
MIN_PER_CLASS = 10
"""A class needs at least this many usable images to be split 70/10/20."""
EMPTY_CLASS = "class folder has no usable images; class left out"
"""The reason listed for a class folder (``name/``) none of whose files could be used."""
SCAN_FORMAT = 2
"""Bump when the scan rules change, so cached scan results are not reused."""


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy and torch (CPU and every CUDA device) with ``seed``."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_cache_dir() -> Path:
    """The user's cache folder for the workbench (e.g. ~/.cache/workbench)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("workbench"))


def resolve_cache_dir(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def short_hash(*parts: Any, length: int = 16) -> str:
    """A short hex digest of the JSON form of ``parts`` (stable across machines)."""
    text = json.dumps(parts, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


# --------------------------------------------------------------------------------------- scan


@dataclass(frozen=True)
class Skipped:
    """A file (or class folder) that was left out, and why (one line)."""

    path: str
    reason: str


@dataclass(frozen=True)
class ScanResult:
    """The usable images of a data set, with their classes, and what was left out."""

    source: str
    """Display path of the folder or zip (or ``demo:<seed>``)."""
    classes: list[str]
    """Sorted class folder names (classes without usable images are left out)."""
    paths: list[str]
    """POSIX paths relative to the data set root, including the class folder, sorted."""
    labels: list[int]
    """Class index of each path."""
    skipped: list[Skipped]
    identity: str
    """Hash of every listed file's (path, size, version): the cache key part."""
    location: str = ""
    """Absolute path of the folder or zip the images are read from."""
    is_zip: bool = False
    prefix: str = ""
    """Inside the folder or zip: the sub-folder that holds the class folders ('' or 'x/')."""

    @property
    def image_source(self) -> Source:
        return Source(self.location, self.is_zip, self.prefix)

    def class_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.classes, 0)
        for label in self.labels:
            counts[self.classes[label]] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ScanResult:
        raw = dict(raw)
        raw["skipped"] = [Skipped(**s) for s in raw["skipped"]]
        return cls(**raw)


CheckFn = Callable[[list[str]], list[str | None]]
"""Checks candidate paths; returns None for a usable file or the reason it is left out."""


def _scan_entries(
    entries: list[Entry], check: CheckFn
) -> tuple[list[str], list[str], list[int], list[Skipped]]:
    skipped: list[Skipped] = []
    candidates: list[str] = []
    class_names: set[str] = set()
    for entry in entries:
        if entry.problem is not None:
            skipped.append(Skipped(entry.path, entry.problem))
            continue
        if "/" not in entry.path:
            skipped.append(Skipped(entry.path, "not inside a class folder"))
            continue
        class_names.add(entry.path.split("/", 1)[0])
        candidates.append(entry.path)
    reasons = check(candidates)
    usable: list[str] = []
    for path, reason in zip(candidates, reasons, strict=True):
        if reason is None:
            usable.append(path)
        else:
            skipped.append(Skipped(path, reason))
    present = sorted({path.split("/", 1)[0] for path in usable})
    for empty in sorted(class_names - set(present)):
        skipped.append(Skipped(f"{empty}/", EMPTY_CLASS))
    index = {name: i for i, name in enumerate(present)}
    labels = [index[path.split("/", 1)[0]] for path in usable]
    return present, usable, labels, sorted(skipped, key=lambda s: s.path)


def _check_usable(scan: ScanResult) -> None:
    if len(scan.classes) < 2:
        found = ", ".join(scan.classes) or "none"
        files = [s for s in scan.skipped if s.reason != EMPTY_CLASS]
        unusable = (
            f"; {len(files)} file(s) left out, e.g. {files[0].path}: {files[0].reason}"
            if files
            else ""
        )
        raise DataError(
            f"{scan.source}: found {len(scan.classes)} class folder(s) with images ({found}); "
            "need at least 2 sub-folders, one per class" + unusable
        )
    for name, count in scan.class_counts().items():
        if count < MIN_PER_CLASS:
            left = sum(1 for s in scan.skipped if s.path.startswith(f"{name}/"))
            note = f" ({left} more left out as unusable)" if left else ""
            raise DataError(
                f"{scan.source}: class '{name}' has only {count} usable image(s){note}; "
                f"each class needs at least {MIN_PER_CLASS} to split 70/10/20"
            )


def scan_dataset(
    data: str | None,
    *,
    cache_dir: str | None = None,
    seed: int = 42,
    demo_per_class: int = 300,
    progress: ProgressFn | None = None,
) -> ScanResult:
    """List and verify every image of a folder or zip (``None``: the built-in demo set).

    Every file is opened and fully decoded (at reduced scale); files that cannot be used are
    listed in ``skipped`` with a reason. The result is cached by the files' identity, so an
    unchanged data set is verified once. Raises :class:`DataError` for a missing source, fewer
    than 2 classes, or a class with fewer than 10 usable images.
    """
    scan, _ = _scan(data, resolve_cache_dir(cache_dir), seed, demo_per_class, progress, None)
    return scan


def _open(
    data: str | None, cache: Path, seed: int, demo_per_class: int, progress: ProgressFn | None
) -> tuple[str, Source, list[Entry]]:
    check_data_path(data)
    if data is None:
        from workbench.engine.synthetic import generate_demo

        folder = generate_demo(cache, seed=seed, per_class=demo_per_class, progress=progress)
        display = f"demo:{seed}"
    else:
        folder = Path(data)
        display = str(data)
    try:
        source, entries = open_source(folder)
    except FileNotFoundError:
        raise DataError(f"{display}: no such folder or zip file") from None
    except NotADirectoryError:
        raise DataError(f"{display}: not a folder or a zip file") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{display}: cannot read it as a folder or zip ({error})") from None
    if not entries:
        raise DataError(f"{display}: no files found; expected one sub-folder of images per class")
    return display, source, entries


def _scan(
    data: str | None,
    cache: Path,
    seed: int,
    demo_per_class: int,
    progress: ProgressFn | None,
    decode: tuple[int, str] | None,
) -> tuple[ScanResult, CacheResult | None]:
    """scan_dataset; with ``decode=(size, mode)``, a first scan also decodes in the same pass.

    Returns the scan and, when it decoded, the (already stored) decode-cache result.
    """
    from workbench.engine import cache as decode_cache

    display, source, entries = _open(data, cache, seed, demo_per_class, progress)
    identity = short_hash(
        SCAN_FORMAT,
        "zip" if source.is_zip else "dir",
        [(e.path, e.size, e.version) for e in entries],
    )
    record = cache / "scans" / f"scan-{identity}.json"
    scan: ScanResult | None = None
    if record.exists():
        try:
            scan = ScanResult.from_dict(json.loads(record.read_text("utf-8")))
        except (OSError, ValueError, TypeError, KeyError):
            scan = None
    decoded: tuple[np.ndarray, np.ndarray] | None = None
    if scan is None:
        if decode is None:

            def check(candidates: list[str]) -> list[str | None]:
                chunks = map_chunks(
                    functools.partial(check_chunk, source),
                    candidates,
                    task="checking images",
                    progress=progress,
                )
                return [reason for chunk in chunks for reason in chunk]

        else:

            def check(candidates: list[str]) -> list[str | None]:
                nonlocal decoded
                reasons, images, stats = decode_cache.check_and_decode(
                    source, candidates, decode[0], decode[1], progress
                )
                decoded = images, stats
                return reasons

        classes, paths, labels, skipped = _scan_entries(entries, check)
        scan = ScanResult(display, classes, paths, labels, skipped, identity)
        with contextlib.suppress(OSError):  # a read-only cache only costs a re-scan next time
            atomic_write_text(record, json.dumps(scan.to_dict()))
    scan = ScanResult(
        source=display,
        classes=scan.classes,
        paths=scan.paths,
        labels=scan.labels,
        skipped=scan.skipped,
        identity=identity,
        location=source.location,
        is_zip=source.is_zip,
        prefix=source.prefix,
    )
    _check_usable(scan)
    stored = None
    if decoded is not None and decode is not None:
        stored = decode_cache.store(scan, decode[0], decode[1], cache, *decoded)
    return scan, stored


# -------------------------------------------------------------------------------------- split


def _split_sizes(n: int) -> tuple[int, int, int]:
    """70/10/20 with round-half-up in integers: 1000 -> (700, 100, 200), 10 -> (7, 1, 2)."""
    train = (7 * n + 5) // 10
    val = (n + 5) // 10
    return train, val, n - train - val


def _order_key(seed: int, path: str) -> str:
    return hashlib.sha256(f"{seed}/{path}".encode()).hexdigest()


@dataclass(frozen=True)
class SplitResult:
    """Every image's split, and the fingerprint two students compare to know theirs agree."""

    rows: list[tuple[str, str, str]]
    """(path, class, split) for every image, in the order of ScanResult.paths."""
    fingerprint: str
    """Short hex hash of the sorted (split, class, path) triples."""
    seed: int = 42

    def counts(self) -> dict[str, dict[str, int]]:
        """class -> split -> number of images (every split present, classes sorted)."""
        out: dict[str, dict[str, int]] = {}
        for _, name, split in self.rows:
            out.setdefault(name, dict.fromkeys(SPLITS, 0))[split] += 1
        return dict(sorted(out.items()))

    def indices(self, split: str) -> list[int]:
        """Indices into ScanResult.paths of the images in ``split``, ascending."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return [i for i, row in enumerate(self.rows) if row[2] == split]


def split_fingerprint(rows: Sequence[tuple[str, str, str]]) -> str:
    triples = sorted((split, name, path) for path, name, split in rows)
    text = "\n".join(f"{split}\t{name}\t{path}" for split, name, path in triples)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def split_dataset(scan: ScanResult, seed: int = 42) -> SplitResult:
    """Split each class on its own, 70/10/20, the same on every machine and listing order.

    Each class's paths are sorted, ordered by sha256(f"{seed}/{path}") (no RNG stream that a
    library version could change), and the first 70% go to train, the next 10% to val, the rest
    to test.
    """
    by_class: dict[int, list[str]] = {}
    for path, label in zip(scan.paths, scan.labels, strict=True):
        by_class.setdefault(label, []).append(path)
    assignment: dict[str, str] = {}
    for paths in by_class.values():
        ordered = sorted(sorted(paths), key=lambda p: _order_key(seed, p))
        n_train, n_val, _ = _split_sizes(len(ordered))
        for i, path in enumerate(ordered):
            assignment[path] = "train" if i < n_train else "val" if i < n_train + n_val else "test"
    rows = [
        (path, scan.classes[label], assignment[path])
        for path, label in zip(scan.paths, scan.labels, strict=True)
    ]
    return SplitResult(rows=rows, fingerprint=split_fingerprint(rows), seed=seed)


def manifest_text(split: SplitResult) -> str:
    """The CSV text of ``split.csv``. The csv module quotes a field holding a character of its
    line terminator ("\\n") but not a lone carriage return, which a reader then takes for a line
    end: rows with one are written with every field quoted."""
    buffer = io.StringIO()
    plain = csv.writer(buffer, lineterminator="\n")
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writerow(("path", "class", "split"))
    for row in split.rows:
        (quoted if any("\r" in field for field in row) else plain).writerow(row)
    return buffer.getvalue()


def write_manifest(split: SplitResult, path: str | Path) -> Path:
    """Write ``split.csv`` (path, class, split; one row per image) atomically."""
    return atomic_write_text(path, manifest_text(split))


def read_manifest(path: str | Path) -> SplitResult:
    """Read a ``split.csv`` back (e.g. from a run directory)."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != ["path", "class", "split"]:
            raise DataError(f"{path}: not a split manifest (header {header})")
        rows = [(row[0], row[1], row[2]) for row in reader if row]
    return SplitResult(rows=rows, fingerprint=split_fingerprint(rows))


# ------------------------------------------------------------------------------------ prepare


@dataclass
class PreparedData:
    """Decoded images, labels, split and training-split statistics: what the loop needs."""

    config: DataConfig
    scan: ScanResult
    split: SplitResult
    images: torch.Tensor
    """uint8 (N, 3, S, S), ordered like scan.paths, on the CPU."""
    labels: torch.Tensor
    """int64 (N,)."""
    mean: tuple[float, float, float]
    """Per-channel mean on a 0..1 scale, from the train split only."""
    std: tuple[float, float, float]
    cache_path: Path | None = None
    """The decode cache file the images came from (None when not cached)."""
    cache_hit: bool = False

    @property
    def classes(self) -> list[str]:
        return self.scan.classes

    @property
    def num_classes(self) -> int:
        return len(self.scan.classes)

    @property
    def fingerprint(self) -> str:
        return self.split.fingerprint

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def subset_indices(self, split: str) -> torch.Tensor:
        """int64 indices into images/labels of ``split`` (train, val or test)."""
        import torch

        return torch.tensor(self.split.indices(split), dtype=torch.int64)


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
    cache: CacheResult
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def decode_dataset(config: DataConfig, progress: ProgressFn | None = None) -> DecodedData:
    """Scan, split and decode (through the on-disk cache) the data set ``config`` describes."""
    from workbench.engine.cache import load_or_build

    config.validate()
    cache = resolve_cache_dir(config.cache_dir)
    scan, result = _scan(
        config.data,
        cache,
        config.seed,
        config.demo_per_class,
        progress,
        (config.image_size, config.resize),
    )
    split = split_dataset(scan, config.seed)
    if result is None:
        result = load_or_build(scan, config.image_size, config.resize, cache, progress=progress)
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


def make_loader(
    data: PreparedData,
    split: str,
    *,
    batch_size: int,
    shuffle: bool,
    augment: str,
    seed: int,
    device: torch.device,
    num_workers: int = 2,
    channels_last: bool = False,
    prefetch: bool | None = None,
) -> BatchLoader:
    """Batches of (x, y) for ``split``: see :class:`workbench.engine.loader.BatchLoader`."""
    from workbench.engine.loader import BatchLoader

    return BatchLoader(
        data,
        split,
        batch_size=batch_size,
        shuffle=shuffle,
        augment=augment,
        seed=seed,
        device=device,
        num_workers=num_workers,
        channels_last=channels_last,
        prefetch=prefetch,
    )


def __getattr__(name: str) -> Any:
    """Lazy re-exports of the loader's classes, so that importing this module (and with it
    ``workbench split``) does not pay for ``import torch``."""
    if name in ("BatchLoader", "OneHotDataset"):
        from workbench.engine import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MIN_PER_CLASS",
    "SPLITS",
    "DecodedData",
    "PreparedData",
    "ScanResult",
    "Skipped",
    "SplitResult",
    "decode_dataset",
    "make_loader",
    "prepare_data",
    "read_manifest",
    "scan_dataset",
    "seed_everything",
    "split_dataset",
    "write_manifest",
]
