"""Zip files whose members cannot be images (issue 12, section 4).

Absolute names, encrypted members, compression methods this Python cannot inflate and members
larger than an image may be are left out with their reason, from the zip's headers alone; a
zip bomb is never inflated, and a header that lies about the size stops the read there. A zip
with nothing readable is refused in one line.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from workbench.__main__ import main
from workbench.config import DataConfig
from workbench.engine.data import decode_dataset
from workbench.engine.sources import MAX_FILE_BYTES

MakeFolder = Callable[..., Path]

LOCAL, CENTRAL = b"PK\x03\x04", b"PK\x01\x02"
# Offsets of (flags, method, uncompressed size) in a local and in a central-directory header.
FIELDS = {LOCAL: (6, 8, 22), CENTRAL: (8, 10, 24)}
NAME_AT = {LOCAL: 30, CENTRAL: 46}


def _forge(
    data: bytes,
    name: str,
    *,
    flags: int | None = None,
    method: int | None = None,
    size: int | None = None,
) -> bytes:
    """``data`` (a zip) with ``name``'s header fields set in its local and central headers:
    how an encrypted member or an unknown method is made without a tool that writes them."""
    out = bytearray(data)
    encoded = name.encode()
    for signature, (at_flags, at_method, at_size) in FIELDS.items():
        start = 0
        while (start := out.find(signature, start)) >= 0:
            at_name = start + NAME_AT[signature]
            if out[at_name : at_name + len(encoded)] == encoded:
                if flags is not None:
                    struct.pack_into("<H", out, start + at_flags, flags)
                if method is not None:
                    struct.pack_into("<H", out, start + at_method, method)
                if size is not None:
                    struct.pack_into("<I", out, start + at_size, size)
            start += 4
    return bytes(out)


def _zip_of(folder: Path, extra: Callable[[zipfile.ZipFile], None]) -> bytes:
    """A zip of the image folder, plus whatever ``extra`` writes into it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*.png")):
            archive.write(path, path.relative_to(folder).as_posix())
        extra(archive)
    return buffer.getvalue()


def _bomb(archive: zipfile.ZipFile) -> None:
    """A member that inflates to more than an image may be (zeros: about 0.1% of it on disk)."""
    chunk = bytes(2**20)
    with archive.open("cats/bomb.png", "w") as member:
        for _ in range(MAX_FILE_BYTES // len(chunk) + 8):
            member.write(chunk)


def _small(name: str) -> Callable[[zipfile.ZipFile], None]:
    return lambda archive: archive.writestr(name, b"\x89PNG not really" * 10)


CASES: dict[str, tuple[Callable[[bytes], bytes], Callable[[zipfile.ZipFile], None], str, str]] = {
    # case: (forge, extra members, left-out path, words of its reason)
    "absolute-name": (lambda z: z, _small("/cats/abs.png"), "/cats/abs.png", "absolute name"),
    "encrypted": (
        lambda z: _forge(z, "cats/secret.png", flags=0x1),
        _small("cats/secret.png"),
        "cats/secret.png",
        "encrypted",
    ),
    "unknown-method": (
        lambda z: _forge(z, "cats/ppmd.png", method=98),
        _small("cats/ppmd.png"),
        "cats/ppmd.png",
        "method 98",
    ),
    "bomb": (lambda z: z, _bomb, "cats/bomb.png", "too large"),
    "bomb-with-a-lying-header": (
        lambda z: _forge(z, "cats/bomb.png", size=4096),
        _bomb,
        "cats/bomb.png",
        "cannot read",
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(CASES))
def test_unreadable_members_are_left_out_with_their_reason(
    case: str, make_image_folder: MakeFolder, cache_dir: Path, tmp_path: Path
) -> None:
    forge, extra, path, words = CASES[case]
    folder = make_image_folder({"cats": 10, "dogs": 10})
    archive = tmp_path / "data.zip"
    archive.write_bytes(forge(_zip_of(folder, extra)))
    config = DataConfig(data=str(archive), image_size=64, cache_dir=str(cache_dir))
    decoded = decode_dataset(config)  # what `train` and `split` do: scan, split, decode
    assert decoded.scan.class_counts() == {"cats": 10, "dogs": 10}
    reasons = {s.path: s.reason for s in decoded.scan.skipped}
    assert words in reasons[path], reasons
    assert decoded.cache.images.shape == (20, 3, 64, 64)


@pytest.mark.timeout(60)
def test_a_zip_with_nothing_readable_is_refused_in_one_line(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for klass in ("cats", "dogs"):
            for i in range(10):
                archive.writestr(f"{klass}/{i}.png", b"locked")
    data = buffer.getvalue()
    for klass in ("cats", "dogs"):
        for i in range(10):
            data = _forge(data, f"{klass}/{i}.png", flags=0x1)
    (tmp_path / "locked.zip").write_bytes(data)
    args = ["split", "--data", str(tmp_path / "locked.zip"), "--cache-dir", str(cache_dir)]
    assert main([*args, "--json"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "locked.zip" in err, err
    assert "20 file(s) left out" in err and "encrypted" in err, err


def test_the_forged_headers_say_what_the_tests_mean() -> None:
    """The forging helper itself: zipfile reads back the flags, method and size it wrote."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/b.png", b"12345")
    forged = _forge(buffer.getvalue(), "a/b.png", flags=0x1, method=98, size=7)
    info = zipfile.ZipFile(io.BytesIO(forged)).getinfo("a/b.png")
    assert (info.flag_bits & 0x1, info.compress_type, info.file_size) == (1, 98, 7)
