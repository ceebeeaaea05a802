"""Scanning: folders and zips, every kind of bad or unusual file, class rules."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.config import DataConfig
from workbench.engine import sources
from workbench.engine.data import prepare_data
from workbench.engine.scan import scan_dataset
from workbench.engine.sources import ImageProblem, open_rgb
from workbench.engine.split import split_dataset
from workbench.errors import DataError

MakeFolder = Callable[..., Path]


def _jpeg_bytes(image: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **save)
    return buffer.getvalue()


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def test_bad_and_unusual_files_are_reported_and_converted(
    make_image_folder: MakeFolder, cache_dir: Path
) -> None:
    folder = make_image_folder({"cats": 10, "dogs": 10})
    photo = Image.fromarray(np.full((40, 60, 3), 120, np.uint8))
    good_jpeg = _jpeg_bytes(photo)
    odd = folder / "cats"
    (odd / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(500))
    (odd / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    (odd / "empty.jpg").write_bytes(b"")
    (odd / "notes.txt").write_text("not an image\n")
    (odd / "tiny.png").write_bytes(_png_bytes(Image.new("RGB", (2, 2))))
    (odd / ".DS_Store").write_bytes(b"\x00\x01")
    (odd / "gray.png").write_bytes(_png_bytes(Image.new("L", (30, 30), 128)))
    (odd / "rgba.png").write_bytes(_png_bytes(Image.new("RGBA", (30, 30), (255, 0, 0, 0))))
    (odd / "palette.png").write_bytes(_png_bytes(Image.new("P", (30, 30), 3)))
    (odd / "cmyk.jpg").write_bytes(_jpeg_bytes(Image.new("CMYK", (30, 30), (0, 255, 255, 0))))
    deep = Image.fromarray(np.full((30, 30), 40000, np.uint16))
    (odd / "deep16.png").write_bytes(_png_bytes(deep))
    (folder / "README.txt").write_text("class folders below\n")
    before = _snapshot(folder)

    scan = scan_dataset(str(folder), cache_dir=str(cache_dir))

    reasons = {s.path: s.reason for s in scan.skipped}
    assert reasons["cats/empty.jpg"] == "empty file (0 bytes)"
    assert "truncated" in reasons["cats/truncated.jpg"]
    assert reasons["cats/notes.txt"].startswith("not an image")
    assert "too small" in reasons["cats/tiny.png"]
    assert "cats/corrupt.jpg" in reasons
    assert reasons["README.txt"] == "not inside a class folder"
    assert all("\n" not in reason for reason in reasons.values())
    kept = {"gray.png", "rgba.png", "palette.png", "cmyk.jpg", "deep16.png"}
    assert {f"cats/{name}" for name in kept} <= set(scan.paths)
    assert not any(".DS_Store" in p for p in [*scan.paths, *reasons])
    assert scan.classes == ["cats", "dogs"]
    assert scan.class_counts() == {"cats": 15, "dogs": 10}
    assert scan.paths == sorted(scan.paths)
    assert _snapshot(folder) == before  # the data folder is never modified
    prepared = prepare_data(DataConfig(data=str(folder), image_size=64, cache_dir=str(cache_dir)))
    for name, colour in (("gray", (128, 128, 128)), ("rgba", (255, 255, 255))):
        pixel = prepared.images[prepared.scan.paths.index(f"cats/{name}.png"), :, 5, 5]
        assert tuple(pixel.tolist()) == colour
    cmyk = prepared.images[prepared.scan.paths.index("cats/cmyk.jpg"), :, 5, 5].tolist()
    assert cmyk[0] > 200 and cmyk[1] < 60
    assert _snapshot(folder) == before


def test_conversions_to_rgb() -> None:
    rgba = open_rgb(_png_bytes(Image.new("RGBA", (20, 20), (255, 0, 0, 0))))
    assert rgba.mode == "RGB" and rgba.getpixel((0, 0)) == (255, 255, 255)  # on white
    cmyk = open_rgb(_jpeg_bytes(Image.new("CMYK", (20, 20), (0, 255, 255, 0))))
    red, green, blue = cmyk.getpixel((10, 10))  # type: ignore[misc]
    assert cmyk.mode == "RGB" and red > 200 and green < 60 and blue < 60
    deep = open_rgb(_png_bytes(Image.fromarray(np.full((20, 20), 40000, np.uint16))))
    assert deep.mode == "RGB" and abs(deep.getpixel((0, 0))[0] - 156) <= 1  # type: ignore[index]
    gray = open_rgb(_png_bytes(Image.new("L", (20, 20), 77)))
    assert gray.getpixel((5, 5)) == (77, 77, 77)


def test_exif_orientation_is_applied() -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red, right half blue
    pixels[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to view
    image = open_rgb(_jpeg_bytes(Image.fromarray(pixels), exif=exif, quality=95))
    assert image.size == (20, 40)
    top, bottom = image.getpixel((10, 2)), image.getpixel((10, 37))
    assert top[0] > 200 and bottom[2] > 200  # type: ignore[index]


def test_too_large_images_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_PIXELS", 1000)
    with pytest.raises(ImageProblem, match="too large to decode safely"):
        open_rgb(_png_bytes(Image.new("RGB", (40, 40))))


def _zip_folder(folder: Path, target: Path, *, top: str | None, reverse: bool = False) -> Path:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if reverse:
        files.reverse()
    with zipfile.ZipFile(target, "w") as archive:
        for path in files:
            name = path.relative_to(folder).as_posix()
            archive.write(path, f"{top}/{name}" if top else name)
        archive.writestr("__MACOSX/cats/._cats_0000.png", b"junk")
        archive.writestr(f"{top + '/' if top else ''}cats/.hidden.png", b"junk")
    return target


@pytest.mark.parametrize("top", [None, "animals"])
def test_zip_is_the_same_data_set_as_its_folder(
    image_folder: Path, cache_dir: Path, tmp_path: Path, top: str | None
) -> None:
    archive = _zip_folder(image_folder, tmp_path / "animals.zip", top=top, reverse=True)
    from_folder = scan_dataset(str(image_folder), cache_dir=str(cache_dir))
    from_zip = scan_dataset(str(archive), cache_dir=str(cache_dir))
    assert from_zip.is_zip and from_zip.prefix == (f"{top}/" if top else "")
    assert from_zip.classes == from_folder.classes
    assert from_zip.paths == from_folder.paths
    assert from_zip.skipped == from_folder.skipped == []
    assert split_dataset(from_zip).fingerprint == split_dataset(from_folder).fingerprint


def test_folder_inside_one_top_folder_and_nested_class_folders(
    make_image_folder: MakeFolder, cache_dir: Path, tmp_path: Path
) -> None:
    outer = tmp_path / "download"
    make_image_folder({"cats": 10, "dogs": 6}, root=outer / "animals")
    make_image_folder({"dogs/more/deeper": 5}, root=outer / "animals", seed=1)
    scan = scan_dataset(str(outer), cache_dir=str(cache_dir))
    assert scan.prefix == "animals/"
    assert scan.class_counts() == {"cats": 10, "dogs": 11}
    assert "dogs/more/deeper/dogs/more/deeper_0000.png" in scan.paths


def test_empty_class_is_reported_and_left_out(
    make_image_folder: MakeFolder, cache_dir: Path
) -> None:
    folder = make_image_folder({"cats": 10, "dogs": 10, "panda": 10})
    (folder / "zebra").mkdir()
    (folder / "zebra" / "broken.jpg").write_bytes(b"nope")
    scan = scan_dataset(str(folder), cache_dir=str(cache_dir))
    assert scan.classes == ["cats", "dogs", "panda"]
    assert [s.path for s in scan.skipped] == ["zebra/", "zebra/broken.jpg"]


def test_too_few_images_in_a_class_is_one_clear_error(
    make_image_folder: MakeFolder, cache_dir: Path
) -> None:
    folder = make_image_folder({"cats": 12, "dogs": 9})
    with pytest.raises(DataError, match=r"class 'dogs' has only 9 usable image\(s\).*at least 10"):
        scan_dataset(str(folder), cache_dir=str(cache_dir))


def test_fewer_than_two_classes_and_missing_data_are_errors(
    make_image_folder: MakeFolder, cache_dir: Path, tmp_path: Path
) -> None:
    one = make_image_folder({"cats": 12})
    with pytest.raises(DataError, match="need at least 2"):
        scan_dataset(str(one), cache_dir=str(cache_dir))
    with pytest.raises(DataError, match="no such folder or zip"):
        scan_dataset(str(tmp_path / "nowhere"), cache_dir=str(cache_dir))
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(DataError, match="not a zip"):
        scan_dataset(str(tmp_path / "fake.zip"), cache_dir=str(cache_dir))


def test_scan_is_cached_and_changes_invalidate_it(image_folder: Path, cache_dir: Path) -> None:
    first = scan_dataset(str(image_folder), cache_dir=str(cache_dir))
    assert len(list((cache_dir / "scans").glob("scan-*.json"))) == 1
    again = scan_dataset(str(image_folder), cache_dir=str(cache_dir))
    assert again == first
    (image_folder / "cats" / "cats_0000.png").write_bytes(b"broken now")
    changed = scan_dataset(str(image_folder), cache_dir=str(cache_dir))
    assert changed.identity != first.identity
    assert [s.path for s in changed.skipped] == ["cats/cats_0000.png"]
