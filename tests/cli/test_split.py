"""`workbench split` end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

MakeFolder = Callable[..., Path]


def _workbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_split_json_and_manifest(image_folder: Path, cache_dir: Path, tmp_path: Path) -> None:
    (image_folder / "cats" / "broken.jpg").write_bytes(b"\xff\xd8 broken")
    out = tmp_path / "split.csv"
    args = ["split", "--data", str(image_folder), "--cache-dir", str(cache_dir)]
    result = _workbench(*args, "--image-size", "64", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["classes"] == ["cats", "dogs", "panda"]
    assert document["counts"]["dogs"] == {"train": 8, "val": 1, "test": 3}
    assert document["total"] == 36 and len(document["fingerprint"]) == 12
    assert document["skipped"] == [
        {"path": "cats/broken.jpg", "reason": document["skipped"][0]["reason"]}
    ]
    assert document["cache"]["hit"] is False
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 36 and set(rows[0]) == {"path", "class", "split"}

    again = _workbench(*args, "--image-size", "64", "--json")
    assert json.loads(again.stdout)["cache"]["hit"] is True
    assert json.loads(again.stdout)["fingerprint"] == document["fingerprint"]

    human = _workbench(*args, "--image-size", "64")
    assert human.returncode == 0, human.stderr
    assert document["fingerprint"] in human.stdout
    assert "cats/broken.jpg" in human.stdout


def test_too_few_images_exits_2_with_one_line(
    make_image_folder: MakeFolder, cache_dir: Path
) -> None:
    folder = make_image_folder({"cats": 12, "dogs": 4})
    result = _workbench("split", "--data", str(folder), "--cache-dir", str(cache_dir), "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "class 'dogs' has only 4 usable image(s)" in lines[0]


def test_missing_data_exits_2(tmp_path: Path) -> None:
    result = _workbench("split", "--data", str(tmp_path / "nope"), "--cache-dir", str(tmp_path))
    assert result.returncode == 2
    assert "no such folder or zip file" in result.stderr


def test_help_lists_options_with_defaults() -> None:
    result = _workbench("split", "--help")
    assert result.returncode == 0
    for option in ("--data", "--seed", "--image-size", "--out", "--cache-dir", "--json"):
        assert option in result.stdout
    assert "default: 42" in result.stdout


def test_split_does_not_import_torch(image_folder: Path, cache_dir: Path) -> None:
    """Scanning, splitting and decoding need no torch, so a cache hit answers at once."""
    argv = ["split", "--data", str(image_folder), "--cache-dir", str(cache_dir), "--json"]
    code = (
        "import sys\n"
        "from workbench.__main__ import main\n"
        f"assert main({argv!r}) == 0\n"
        "print('torch loaded:', 'torch' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] > 0
    assert "torch loaded: False" in result.stderr


def test_a_cache_that_cannot_be_written_is_said_and_leaves_nothing_half_written(
    image_folder: Path,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The images file fails as on a full disk after the stats file was written: the command
    still succeeds (the cache is a speed-up), says it cached nothing, and removes the stats."""
    import errno

    import numpy as np

    from workbench.__main__ import main
    from workbench.engine import cache

    real_save = np.save

    def save(handle: object, array: np.ndarray, **kwargs: object) -> None:
        if array.dtype == np.uint8:  # the images, not the stats
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(handle, array, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cache.np, "save", save)
    monkeypatch.setenv("COLUMNS", "200")
    args = ["split", "--data", str(image_folder), "--cache-dir", str(cache_dir)]
    assert main([*args, "--image-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "decoded, not cached" in out and cache.UNCACHED in out
    assert [p for p in cache_dir.rglob("*.npy")] == []
