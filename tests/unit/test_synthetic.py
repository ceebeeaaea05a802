"""The built-in demo data set: deterministic, complete, and read like any folder."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from workbench.engine.scan import scan_dataset
from workbench.engine.split import split_dataset
from workbench.engine.synthetic import CLASSES, SIDE, draw_face, generate_demo


def test_drawing_is_a_pure_function_of_the_seed() -> None:
    for kind in CLASSES:
        a = np.asarray(draw_face(kind, random.Random(f"1/{kind}/0")))
        b = np.asarray(draw_face(kind, random.Random(f"1/{kind}/0")))
        c = np.asarray(draw_face(kind, random.Random(f"1/{kind}/1")))
        assert a.shape == (SIDE, SIDE, 3) and a.dtype == np.uint8
        assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_generate_once_into_the_cache(tmp_path: Path) -> None:
    progress: list[tuple[str, int, int]] = []
    folder = generate_demo(tmp_path, seed=3, per_class=10, progress=lambda *a: progress.append(a))
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
    assert len(files) == 30 and files[0] == "cats/cats_00000.jpg"
    assert progress[-1][1:] == (30, 30)
    stamp = (folder / "cats" / "cats_00000.jpg").stat().st_mtime_ns
    assert generate_demo(tmp_path, seed=3, per_class=10) == folder
    assert (folder / "cats" / "cats_00000.jpg").stat().st_mtime_ns == stamp  # not redrawn
    other = generate_demo(tmp_path, seed=4, per_class=10)
    assert other != folder
    assert not list(folder.parent.glob(".*"))  # no temporary folders left behind


def test_demo_scans_and_splits_like_a_folder(tmp_path: Path) -> None:
    scan = scan_dataset(None, cache_dir=str(tmp_path), seed=3, demo_per_class=20)
    assert scan.source == "demo:3" and scan.classes == list(CLASSES)
    assert scan.skipped == [] and len(scan.paths) == 60
    counts = split_dataset(scan, 3).counts()
    assert counts["panda"] == {"train": 14, "val": 2, "test": 4}
