"""Find and verify the images of a data set: a folder or zip of one sub-folder per class.

``scan_dataset`` lists every file, opens and fully decodes each (at reduced scale) and reports
the ones it leaves out with a reason, never failing on one bad file. The result is recorded in
the cache folder under the files' identity, so an unchanged data set is verified once.

This module knows nothing of splitting or of the decode cache: ``workbench.engine.data``
orchestrates, and passes :func:`scan_source` its own ``check`` when a first scan should decode
in the same pass.
"""

from __future__ import annotations

import contextlib
import functools
import json
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.config import check_data_path
from workbench.engine.atomic import atomic_write_text
from workbench.engine.cachedir import resolve_cache_dir, short_hash
from workbench.engine.pool import map_chunks
from workbench.engine.progress import ProgressFn
from workbench.engine.sources import Entry, Source, check_chunk, open_source
from workbench.errors import DataError

MIN_PER_CLASS = 10
"""A class needs at least this many usable images to be split 70/10/20."""
EMPTY_CLASS = "class folder has no usable images; class left out"
"""The reason listed for a class folder (``name/``) none of whose files could be used."""
SCAN_FORMAT = 2
"""Bump when the scan rules change, so cached scan results are not reused."""


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
SourceCheck = Callable[[Source, list[str]], list[str | None]]
"""A :data:`CheckFn` that is also handed the opened source (what :func:`scan_source` takes)."""


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
    return scan_source(
        data,
        resolve_cache_dir(cache_dir),
        seed=seed,
        demo_per_class=demo_per_class,
        progress=progress,
    )


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


def verify_images(
    source: Source, candidates: list[str], progress: ProgressFn | None = None
) -> list[str | None]:
    """The scan's own check: decode each file at reduced scale, on every core."""
    chunks = map_chunks(
        functools.partial(check_chunk, source),
        candidates,
        task="checking images",
        progress=progress,
    )
    return [reason for chunk in chunks for reason in chunk]


def scan_source(
    data: str | None,
    cache: Path,
    *,
    seed: int,
    demo_per_class: int,
    progress: ProgressFn | None,
    check: SourceCheck | None = None,
) -> ScanResult:
    """:func:`scan_dataset` in the resolved ``cache`` folder, with an optional own ``check``.

    ``check`` replaces :func:`verify_images` on a first scan (it is not called when the scan is
    recorded already), so a caller that will decode every image anyway can check and decode
    in one pass.
    """
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
    if scan is None:
        checker = check or functools.partial(verify_images, progress=progress)
        classes, paths, labels, skipped = _scan_entries(entries, functools.partial(checker, source))
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
    return scan
