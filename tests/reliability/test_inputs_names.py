"""File names a file system can hold, end to end through `workbench split` (issue 12, sec. 5).

Every odd name either works (scanned, split, written to ``split.csv`` and read back by the
project's own reader unchanged) or is left out with its reason: bytes that are not UTF-8 cannot
be written into a UTF-8 ``split.csv``, so those files are left out, their names shown escaped.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from workbench.__main__ import main
from workbench.engine.split import read_manifest

MakeFolder = Callable[..., Path]

WORKING = [
    "cats/carriage\rreturn.png",
    "cats/new\nline.png",
    "cats/both\r\nends.png",
    "cats/com,ma.png",
    'cats/"quoted".png',
    "cats/ leading space.png",
    "cats/trailing space .png",
    "cats/tab\there.png",
    "cats/ünïcødé 猫.png",
    "do,gs \r/dog.png",  # a class folder name with a comma, a space and a carriage return
]
BROKEN = "cats/[bold]not an image.png"  # rich markup in a printed name (left out)
NOT_UTF8 = [
    (b"cats/caf\xe9.png", "cats/caf\\xe9.png"),  # Latin-1 bytes: not UTF-8
    (b"d\xffgs/dog.png", "d\\xffgs/"),  # a class folder whose name is not UTF-8
]


@pytest.mark.timeout(60)
@pytest.mark.skipif(os.name != "posix", reason="needs a file system that takes any bytes")
def test_odd_names_work_end_to_end_or_are_left_out_with_their_reason(
    make_image_folder: MakeFolder,
    cache_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = make_image_folder({"cats": 10, "dogs": 10, "do,gs \r": 10})
    image = next((folder / "dogs").iterdir())
    for name in WORKING:
        shutil.copy(image, folder / name)
    for raw, _ in NOT_UTF8:
        target = os.fsencode(folder) + b"/" + raw
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(os.fsencode(image), target)
    (folder / BROKEN).write_bytes(b"not an image")
    out = tmp_path / "split.csv"
    args = ["split", "--data", str(folder), "--cache-dir", str(cache_dir), "--out", str(out)]

    assert main([*args, "--json"]) == 0, capsys.readouterr().err
    document = json.loads(capsys.readouterr().out)

    reasons = {s["path"]: s["reason"] for s in document["skipped"]}
    assert sorted(reasons) == sorted([BROKEN, *(shown for _, shown in NOT_UTF8)])
    assert all("not valid UTF-8" in reasons[shown] for _, shown in NOT_UTF8), reasons
    manifest = read_manifest(out)
    paths = {path for path, _, _ in manifest.rows}
    assert set(WORKING) <= paths
    assert {name for _, name, _ in manifest.rows} == {"cats", "dogs", "do,gs \r"}
    assert manifest.fingerprint == document["fingerprint"]
    assert len(manifest.rows) == document["total"] == 30 + len(WORKING)

    assert main(args) == 0  # the human display, from the cached scan, prints them too
    shown = capsys.readouterr().out
    assert "caf\\xe9.png" in shown and BROKEN in shown
