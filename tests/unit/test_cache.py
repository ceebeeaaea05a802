"""The decode cache: a hit equals a fresh decode; changed or added files invalidate it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.config import DataConfig
from workbench.engine import pool
from workbench.engine.cache import decode_all
from workbench.engine.data import prepare_data
from workbench.engine.scan import scan_dataset

MakeFolder = Callable[..., Path]


def _config(folder: Path, cache_dir: Path, **extra: object) -> DataConfig:
    settings: dict[str, object] = {"image_size": 64, **extra}
    return DataConfig(data=str(folder), cache_dir=str(cache_dir), **settings)  # type: ignore[arg-type]


def test_cache_hit_equals_a_fresh_decode(image_folder: Path, cache_dir: Path) -> None:
    first = prepare_data(_config(image_folder, cache_dir))
    assert not first.cache_hit and first.cache_path is not None and first.cache_path.exists()
    second = prepare_data(_config(image_folder, cache_dir))
    assert second.cache_hit and second.cache_path == first.cache_path
    assert torch.equal(first.images, second.images)
    fresh, _ = decode_all(first.scan, 64, "squash")
    assert np.array_equal(fresh, second.images.numpy())
    assert second.images.dtype == torch.uint8 and second.images.shape == (36, 3, 64, 64)
    assert second.images.is_contiguous() and second.images.numpy().flags.writeable


def test_changed_and_added_files_invalidate_the_cache(image_folder: Path, cache_dir: Path) -> None:
    first = prepare_data(_config(image_folder, cache_dir))
    target = image_folder / "dogs" / "dogs_0003.png"
    rng = np.random.default_rng(99)
    from PIL import Image

    Image.fromarray(rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)).save(target)
    changed = prepare_data(_config(image_folder, cache_dir))
    assert not changed.cache_hit and changed.scan.identity != first.scan.identity
    index = changed.scan.paths.index("dogs/dogs_0003.png")
    assert not torch.equal(changed.images[index], first.images[index])
    Image.fromarray(rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)).save(
        image_folder / "panda" / "new.png"
    )
    added = prepare_data(_config(image_folder, cache_dir))
    assert not added.cache_hit and len(added.scan.paths) == 37


def test_size_and_resize_mode_are_part_of_the_key(image_folder: Path, cache_dir: Path) -> None:
    squash = prepare_data(_config(image_folder, cache_dir))
    crop = prepare_data(_config(image_folder, cache_dir, resize="crop"))
    pad = prepare_data(_config(image_folder, cache_dir, resize="pad", image_size=128))
    assert len({squash.cache_path, crop.cache_path, pad.cache_path}) == 3
    assert not crop.cache_hit and pad.images.shape[-1] == 128
    assert not torch.equal(squash.images, crop.images)


def test_corrupt_cache_file_is_rebuilt(image_folder: Path, cache_dir: Path) -> None:
    first = prepare_data(_config(image_folder, cache_dir))
    assert first.cache_path is not None
    first.cache_path.write_bytes(b"garbage")
    again = prepare_data(_config(image_folder, cache_dir))
    assert not again.cache_hit and torch.equal(again.images, first.images)


def test_process_pool_decodes_like_one_process(
    image_folder: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan = scan_dataset(str(image_folder), cache_dir=str(cache_dir))
    serial, _ = decode_all(scan, 64, "squash")
    monkeypatch.setattr(pool, "PARALLEL_MIN_ITEMS", 0)
    calls: list[tuple[str, int, int]] = []
    parallel, _ = decode_all(scan, 64, "squash", progress=lambda *a: calls.append(a))
    assert np.array_equal(serial, parallel)
    assert calls[0][1] == 0 and calls[-1][1:] == (36, 36)


def test_stats_sidecar_matches_the_images(image_folder: Path, cache_dir: Path) -> None:
    from workbench.engine.cache import image_stats, stats_path

    first = prepare_data(_config(image_folder, cache_dir))
    assert first.cache_path is not None
    stats = np.load(stats_path(first.cache_path))
    assert np.array_equal(stats, image_stats(first.images.numpy()))
    stats_path(first.cache_path).unlink()
    again = prepare_data(_config(image_folder, cache_dir))
    assert not again.cache_hit and again.mean == first.mean and again.std == first.std


def test_first_prepare_checks_and_decodes_in_one_pass_with_the_same_result(
    image_folder: Path, tmp_path: Path
) -> None:
    (image_folder / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (image_folder / "panda" / "empty.jpg").write_bytes(b"")
    fused = prepare_data(_config(image_folder, tmp_path / "one"))
    scan_dataset(str(image_folder), cache_dir=str(tmp_path / "two"))  # scan first, then decode
    separate = prepare_data(_config(image_folder, tmp_path / "two"))
    assert fused.scan == separate.scan
    assert [s.path for s in fused.scan.skipped] == ["dogs/broken.png", "panda/empty.jpg"]
    assert torch.equal(fused.images, separate.images)
    assert (fused.mean, fused.std) == (separate.mean, separate.std)
    hit = prepare_data(_config(image_folder, tmp_path / "one"))
    assert hit.cache_hit and torch.equal(hit.images, fused.images)


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    import os

    from workbench.engine.cachedir import remove_stale

    old, new = tmp_path / ".images-a.npy.x.tmp.npy", tmp_path / ".images-b.npy.y.tmp.npy"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (1, 1))
    remove_stale(tmp_path, ".images-*.tmp.npy")
    assert not old.exists() and new.exists()
