"""Read an image folder or a .zip of one, in place, and open its images safely.

A *source* lists candidate files as POSIX paths relative to the data set root (the folder that
holds the class folders) and reads their bytes; it never writes. A folder and a zip of it list
the same relative paths. The image helpers here are plain functions of bytes, so decode workers
in other processes can use them without sharing any state but the source's location.

Only what can be an image file is ever opened: in a folder a regular file (its type checked
after following links, so a FIFO or a link to a device is never opened, and read no further
than the size ``stat`` gave), in a zip a member that is neither encrypted nor compressed with a
method this Python cannot inflate, and never one larger than :data:`MAX_FILE_BYTES`. Anything
else is listed with the reason it is left out, as is a name that ``split.csv`` cannot hold.
"""

from __future__ import annotations

import io
import lzma
import os
import stat
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from workbench.config import RESIZE_MODES

MAX_PIXELS = 64_000_000
"""Images with more pixels than this are left out as too large to decode safely."""
MIN_SIDE = 8
"""Images with a side shorter than this (pixels) are left out as too small to be useful."""
MAX_FILE_BYTES = 64 * 2**20
"""A file or zip member larger than this (by its size on disk or in the zip's header) is left
out as too large for an image before any of it is read: a zip bomb is never inflated."""
ZIP_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
"""Compression methods the standard library inflates; members with any other are left out."""
_READ_ERRORS = (
    OSError,
    EOFError,
    RuntimeError,  # and NotImplementedError: an unknown method
    ValueError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
)
"""What reading a file or inflating a zip member can raise when its bytes are bad."""


@dataclass(frozen=True)
class Entry:
    """One listed file: relative POSIX path (incl. class folder), size in bytes, a version."""

    path: str
    size: int
    version: str
    """Folder: mtime in ns; zip: the entry's CRC-32 and date. Changes when the file does."""
    problem: str | None = None
    """Why it is left out without being opened (not a regular file, too large, encrypted...);
    None for a candidate image."""


def _ignored(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def shown_name(name: str) -> str:
    """``name`` printable and storable as UTF-8: bytes that are not UTF-8 (which Python keeps as
    lone surrogates) written as ``\\xNN``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _name_problem(name: str) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8 (split.csv cannot hold it); rename it"
    return None


def too_large(size: int) -> str:
    """The reason a file of ``size`` bytes is left out, or '' when it may be an image."""
    if size <= MAX_FILE_BYTES:
        return ""
    return (
        f"too large for an image ({size / 2**20:,.0f} MiB; the limit is "
        f"{MAX_FILE_BYTES // 2**20} MiB); left out unread"
    )


_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def file_problem(status: os.stat_result) -> str | None:
    """Why a file with this ``stat`` (links followed) cannot be read as an image, or None."""
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(status.st_mode)), "special")
        return f"not a regular file ({kind}); left out unopened"
    return too_large(status.st_size) or None


def member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member cannot be read as an image, from its header alone, or None."""
    if PurePosixPath(info.filename).is_absolute():
        return "absolute name inside the zip; re-zip the folder with relative names"
    if info.flag_bits & 0x1:
        return "encrypted zip member (needs a password); zip the images without encryption"
    if info.compress_type not in ZIP_METHODS:
        return (
            f"zip member compressed with method {info.compress_type}, which cannot be read; "
            "re-zip with deflate"
        )
    return too_large(info.file_size) or None


@dataclass(frozen=True)
class Source:
    """Where the images are: a folder, or a zip file with an optional top-level prefix."""

    location: str
    """Absolute path of the folder or zip file."""
    is_zip: bool
    prefix: str = ""
    """Inside the source: the folder that holds the class folders ('' or 'name/')."""

    def read(self, path: str) -> bytes:
        """The bytes of the file at ``path`` (relative to the data set root); raises
        ImageProblem when it is not a readable file of at most MAX_FILE_BYTES."""
        try:
            if self.is_zip:
                return _read_member(_zip_handle(self.location), self.prefix + path)
            return _read_file(Path(self.location) / self.prefix / path)
        except ImageProblem:
            raise
        except _READ_ERRORS as error:
            raise ImageProblem(f"cannot read file ({error})") from None


def _read_file(path: Path) -> bytes:
    """The file's bytes, if it is a regular file: its type is checked before opening (never
    ``open()`` a FIFO: that blocks) and again on the open descriptor (it may have been swapped),
    and no more than the size ``fstat`` gave is read (a device would never end)."""
    problem = file_problem(os.stat(path))
    if problem:
        raise ImageProblem(problem)
    nonblocking = getattr(os, "O_NONBLOCK", 0)  # POSIX: opening a FIFO then cannot block
    flags = os.O_RDONLY | nonblocking | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    with open(descriptor, "rb") as handle:
        status = os.fstat(descriptor)
        problem = file_problem(status)
        if problem:
            raise ImageProblem(problem)
        if nonblocking:
            os.set_blocking(descriptor, True)
        return handle.read(status.st_size)


def _read_member(handle: zipfile.ZipFile, name: str) -> bytes:
    """The member's bytes, streamed, never more than the size its header gives (zipfile stops
    there and checks the CRC, so a header that lies about a bomb fails instead of inflating)."""
    try:
        info = handle.getinfo(name)
    except KeyError:
        raise ImageProblem("no longer in the zip (it changed since the scan)") from None
    problem = member_problem(info)
    if problem:
        raise ImageProblem(problem)
    with handle.open(info) as member:
        return member.read(info.file_size)


_ZIPS: dict[str, tuple[tuple[int, int], zipfile.ZipFile]] = {}


def _zip_handle(location: str) -> zipfile.ZipFile:
    """One open ZipFile per process and zip (decode workers each open their own), opened
    again when the file at ``location`` is replaced or changed (a long-lived TUI re-scans)."""
    status = os.stat(location)
    version = (status.st_mtime_ns, status.st_size)
    known = _ZIPS.get(location)
    if known is not None and known[0] == version:
        return known[1]
    if known is not None:
        known[1].close()
    handle = zipfile.ZipFile(location)
    _ZIPS[location] = (version, handle)
    return handle


def _strip_top_folder(files: list[tuple[str, ...]]) -> tuple[str, list[tuple[str, ...]]]:
    """If every file sits inside one top-level folder that holds folders, descend into it."""
    tops = {parts[0] for parts in files}
    if len(tops) == 1 and all(len(parts) > 1 for parts in files):
        inner = [parts[1:] for parts in files]
        if any(len(parts) > 1 for parts in inner):
            return f"{next(iter(tops))}/", inner
    return "", files


Listed = tuple[tuple[str, ...], int, str, str | None]
"""One file found: its path parts, size, version and the reason it is left out (or None)."""


def _walk(root: Path) -> Iterator[Listed]:
    """Every file under ``root``, links followed: a link to a folder is entered once per real
    folder (by device and inode), so a link loop or a second name for a folder is reported,
    not followed forever. Folders that cannot be entered are reported as one entry ending in
    '/'. Dot-files and __MACOSX/ are skipped."""
    top = os.stat(root)
    entered = {(top.st_dev, top.st_ino)}
    pending: list[tuple[tuple[str, ...], Path]] = [((), root)]
    while pending:
        rel, folder = pending.pop()
        try:
            names = sorted(os.listdir(folder))
        except OSError as error:
            if not rel:
                raise  # the data set's own folder: the caller names it
            yield (*rel[:-1], rel[-1] + "/"), 0, "", f"cannot list folder ({error.strerror})"
            continue
        for name in names:
            if _ignored((name,)):
                continue
            parts, full = (*rel, name), folder / name
            try:
                status = os.stat(full)
            except OSError as error:
                broken = os.path.islink(full)
                yield parts, 0, "", "broken link" if broken else f"cannot stat ({error.strerror})"
                continue
            version = str(status.st_mtime_ns)
            bad_name = _name_problem(name)
            if stat.S_ISDIR(status.st_mode):
                key = (status.st_dev, status.st_ino)
                if bad_name or key in entered:
                    reason = bad_name or (
                        "the same folder as one already scanned (a link loop, or a second "
                        "name for the same images); not followed again"
                    )
                    yield (*rel, name + "/"), 0, version, reason
                    continue
                entered.add(key)
                pending.append((parts, full))
                continue
            yield parts, status.st_size, version, bad_name or file_problem(status)


def open_source(data: str | Path) -> tuple[Source, list[Entry]]:
    """Open a folder or zip and list its files (dot-files and __MACOSX/ ignored); those that
    cannot be images carry the reason (:attr:`Entry.problem`).

    Raises FileNotFoundError / NotADirectoryError / zipfile.BadZipFile; the caller turns them
    into a DataError with the path.
    """
    location = Path(data).expanduser().resolve()
    if not location.exists():
        raise FileNotFoundError(str(data))
    if location.is_file():
        if not zipfile.is_zipfile(location):
            raise zipfile.BadZipFile(f"{data} is a file but not a zip archive")
        with zipfile.ZipFile(location) as handle:
            members = [
                info
                for info in handle.infolist()
                if not info.is_dir() and not _ignored(PurePosixPath(info.filename).parts)
            ]
        absolute = [info for info in members if PurePosixPath(info.filename).is_absolute()]
        infos = {info.filename: info for info in members if info not in absolute}
        prefix, inner = _strip_top_folder([PurePosixPath(name).parts for name in infos])
        entries = [Entry(i.filename, i.file_size, "", member_problem(i)) for i in absolute]
        for parts in inner:
            info = infos[prefix + "/".join(parts)]
            version = f"{info.CRC:08x}-{'-'.join(map(str, info.date_time))}"
            entries.append(Entry("/".join(parts), info.file_size, version, member_problem(info)))
        return Source(str(location), True, prefix), sorted(entries, key=lambda e: e.path)
    if not location.is_dir():
        raise NotADirectoryError(str(data))
    found = list(_walk(location))
    prefix, inner = _strip_top_folder([parts for parts, *_ in found])
    entries = [
        Entry(shown_name("/".join(parts)), size, version, problem)
        for (_, size, version, problem), parts in zip(found, inner, strict=True)
    ]
    return Source(str(location), False, prefix), sorted(entries, key=lambda e: e.path)


class ImageProblem(Exception):
    """An image that cannot be used; the message is the one-line reason shown to the user."""


def open_rgb(data: bytes, *, draft_size: int | None = None) -> Image.Image:
    """Decode bytes into an RGB image with EXIF orientation applied; raise ImageProblem.

    ``draft_size``: for JPEGs, let the decoder scale down by 2/4/8 while keeping both sides at
    least this large (PIL's draft mode), which makes decoding several times faster.
    """
    if not data:
        raise ImageProblem("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageProblem(
                    f"too large to decode safely ({width}x{height} px > {MAX_PIXELS:,} px)"
                )
            if min(width, height) < MIN_SIDE:
                raise ImageProblem(f"too small ({width}x{height} px; need {MIN_SIDE} px a side)")
            if draft_size is not None and image.format == "JPEG":
                scale = min(width, height) / draft_size
                image.draft("RGB", (max(1, int(width / scale)), max(1, int(height / scale))))
            image.load()
            upright: Image.Image = ImageOps.exif_transpose(image) or image
            return to_rgb(upright)
    except ImageProblem:
        raise
    except UnidentifiedImageError:
        raise ImageProblem("not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageProblem("too large to decode safely (decompression bomb guard)") from None
    except OSError as error:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "truncated" in text.lower():
            raise ImageProblem("truncated image (file ends early)") from None
        raise ImageProblem(f"unreadable image ({text})") from None
    except (ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError) as error:
        raise ImageProblem(f"corrupt image ({type(error).__name__}: {error})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Grayscale, palette, alpha, CMYK and 16/32-bit images as 8-bit RGB."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(array, mode="L").convert("RGB")
    if image.mode == "F":
        array = np.nan_to_num(np.asarray(image, dtype=np.float64))
        lo, hi = float(array.min()), float(array.max())
        array = (array - lo) / (hi - lo or 1.0) * 255.0
        return Image.fromarray(array.astype(np.uint8), mode="L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def resize_square(image: Image.Image, size: int, mode: str = "squash") -> np.ndarray:
    """Resize to size x size (see RESIZE_MODES) and return uint8 CHW."""
    if mode == "squash":
        out = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    elif mode == "crop":
        out = ImageOps.fit(image, (size, size), Image.Resampling.BILINEAR)
    elif mode == "pad":
        out = ImageOps.pad(image, (size, size), Image.Resampling.BILINEAR, color=(0, 0, 0))
    else:
        raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
    return np.ascontiguousarray(np.asarray(out, dtype=np.uint8).transpose(2, 0, 1))


def check_image(source: Source, path: str) -> str | None:
    """Open and fully decode one file (at reduced scale); None if usable, else the reason."""
    try:
        open_rgb(source.read(path), draft_size=MIN_SIDE)
    except ImageProblem as problem:
        return str(problem)
    return None


def check_chunk(source: Source, paths: Sequence[str]) -> list[str | None]:
    """check_image for each path (the unit of work of a scan worker)."""
    return [check_image(source, path) for path in paths]


def decode_or_reason(source: Source, path: str, size: int, mode: str) -> np.ndarray | str:
    """The image as uint8 (3, size, size), or the one-line reason it cannot be used."""
    try:
        return decode_image(source, path, size, mode)
    except ImageProblem as problem:
        return str(problem)


def decode_image(source: Source, path: str, size: int, mode: str) -> np.ndarray:
    """The image at ``path`` as uint8 (3, size, size); raises ImageProblem."""
    return resize_square(open_rgb(source.read(path), draft_size=size), size, mode)
