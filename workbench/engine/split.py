"""The per-class 70/10/20 split, its fingerprint, and the ``split.csv`` manifest.

The split is a pure function of the scanned paths and the seed (no RNG stream that a library
version could change), so two students with the same images get the same split, and compare
one short fingerprint to know it.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.engine.atomic import atomic_write_text
from workbench.errors import DataError

if TYPE_CHECKING:
    from workbench.engine.scan import ScanResult

SPLITS = ("train", "val", "test")


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
