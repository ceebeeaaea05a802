"""The per-class 70/10/20 split, its fingerprint and manifest."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.engine.data import seed_everything
from workbench.engine.scan import ScanResult
from workbench.engine.split import read_manifest, split_dataset, write_manifest


def _scan(counts: dict[str, int], *, shuffle_seed: int | None = None) -> ScanResult:
    classes = sorted(counts)
    pairs = [
        (f"{name}/{name}_{i:05d}.jpg", k)
        for k, name in enumerate(classes)
        for i in range(counts[name])
    ]
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(pairs)
    return ScanResult(
        source="test",
        classes=classes,
        paths=[p for p, _ in pairs],
        labels=[label for _, label in pairs],
        skipped=[],
        identity="x",
    )


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (10, (7, 1, 2)),
        (11, (8, 1, 2)),
        (15, (11, 2, 2)),
        (99, (69, 10, 20)),
        (1000, (700, 100, 200)),
    ],
)
def test_split_counts_per_class(n: int, expected: tuple[int, int, int]) -> None:
    split = split_dataset(_scan({"a": n, "b": 1000}), seed=42)
    counts = split.counts()
    assert (counts["a"]["train"], counts["a"]["val"], counts["a"]["test"]) == expected
    assert counts["b"] == {"train": 700, "val": 100, "test": 200}
    assert sorted(split.indices("train") + split.indices("val") + split.indices("test")) == list(
        range(n + 1000)
    )


def test_fingerprint_ignores_listing_order_and_follows_the_seed() -> None:
    counts = {"cats": 1000, "dogs": 1000, "panda": 1000}
    base = split_dataset(_scan(counts), seed=42)
    shuffled = split_dataset(_scan(counts, shuffle_seed=7), seed=42)
    assert shuffled.fingerprint == base.fingerprint
    assert sorted(shuffled.rows) == sorted(base.rows)
    assert split_dataset(_scan(counts), seed=43).fingerprint != base.fingerprint
    assert len(base.fingerprint) == 12 and int(base.fingerprint, 16) >= 0


def test_split_is_pinned() -> None:
    """The split is defined by sha256 ordering, so it can be pinned across machines/versions."""
    split = split_dataset(_scan({"cats": 10, "dogs": 10}), seed=42)
    val = [split.rows[i][0] for i in split.indices("val")]
    assert val == ["cats/cats_00004.jpg", "dogs/dogs_00007.jpg"]
    assert split.fingerprint == "9baf914b68e7"


def test_rows_follow_scan_order_and_indices(tmp_path: Path) -> None:
    scan = _scan({"a": 12, "b": 20})
    split = split_dataset(scan)
    assert [row[0] for row in split.rows] == scan.paths
    assert all(split.rows[i][2] == "val" for i in split.indices("val"))
    with pytest.raises(ValueError):
        split.indices("holdout")
    path = write_manifest(split, tmp_path / "run" / "split.csv")
    assert path.read_text().splitlines()[0] == "path,class,split"
    back = read_manifest(path)
    assert back.rows == split.rows and back.fingerprint == split.fingerprint


def test_seed_everything() -> None:
    seed_everything(42)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(42)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
