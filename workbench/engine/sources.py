"""Read an image folder or a .zip of one, in place, and open its images safely.

A *source* lists candidate files as POSIX paths relative to the data set root (the folder that
holds the class folders) and reads their bytes; it never writes. A folder and a zip of it list
the same relative paths. The image helpers here are plain functions of bytes, so decode workers
in other processes can use them without sharing any state but the source's location.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from workbench.config import RESIZE_MODES

MAX_PIXELS = 64_000_000
"""Images with more pixels than this are left out as too large to decode safely."""
MIN_SIDE = 8
"""Images with a side shorter than this (pixels) are left out as too small to be useful."""


@dataclass(frozen=True)
class Entry:
    """One candidate file: relative POSIX path (incl. class folder), size in bytes, a version."""

    path: str
    size: int
    version: str
    """Folder: mtime in ns; zip: the entry's CRC-32 and date. Changes when the file does."""


def _ignored(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


@dataclass(frozen=True)
class Source:
    """Where the images are: a folder, or a zip file with an optional top-level prefix."""

    location: str
    """Absolute path of the folder or zip file."""
    is_zip: bool
    prefix: str = ""
    """Inside the source: the folder that holds the class folders ('' or 'name/')."""

    def read(self, path: str) -> bytes:
        """The bytes of the file at ``path`` (relative to the data set root)."""
        if self.is_zip:
            return _zip_handle(self.location).read(self.prefix + path)
        return (Path(self.location) / self.prefix / path).read_bytes()


_ZIPS: dict[str, zipfile.ZipFile] = {}


def _zip_handle(location: str) -> zipfile.ZipFile:
    """One open ZipFile per process and zip (decode workers each open their own)."""
    handle = _ZIPS.get(location)
    if handle is None:
        handle = _ZIPS[location] = zipfile.ZipFile(location)
    return handle


def _strip_top_folder(files: list[tuple[str, ...]]) -> tuple[str, list[tuple[str, ...]]]:
    """If every file sits inside one top-level folder that holds folders, descend into it."""
    tops = {parts[0] for parts in files}
    if len(tops) == 1 and all(len(parts) > 1 for parts in files):
        inner = [parts[1:] for parts in files]
        if any(len(parts) > 1 for parts in inner):
            return f"{next(iter(tops))}/", inner
    return "", files


def open_source(data: str | Path) -> tuple[Source, list[Entry]]:
    """Open a folder or zip and list its candidate files (dot-files and __MACOSX/ ignored).

    Raises FileNotFoundError / NotADirectoryError / zipfile.BadZipFile; the caller turns them
    into a DataError with the path.
    """
    location = Path(data).expanduser().resolve()
    if not location.exists():
        raise FileNotFoundError(str(data))
    if location.is_file():
        if not zipfile.is_zipfile(location):
            raise zipfile.BadZipFile(f"{data} is a file but not a zip archive")
        handle = zipfile.ZipFile(location)
        infos = {
            info.filename: info
            for info in handle.infolist()
            if not info.is_dir() and not _ignored(PurePosixPath(info.filename).parts)
        }
        handle.close()
        files = [PurePosixPath(name).parts for name in infos]
        prefix, inner = _strip_top_folder(files)
        entries = []
        for parts in inner:
            info = infos[prefix + "/".join(parts)]
            version = f"{info.CRC:08x}-{'-'.join(map(str, info.date_time))}"
            entries.append(Entry("/".join(parts), info.file_size, version))
        return Source(str(location), True, prefix), sorted(entries, key=lambda e: e.path)
    if not location.is_dir():
        raise NotADirectoryError(str(data))
    found: list[tuple[tuple[str, ...], os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(location):
        dirnames[:] = [d for d in dirnames if not _ignored((d,))]
        rel = Path(dirpath).relative_to(location).parts
        for name in filenames:
            if _ignored((name,)):
                continue
            full = Path(dirpath) / name
            try:
                stat = full.stat()
            except OSError:
                continue
            found.append(((*rel, name), stat))
    stats = {parts: stat for parts, stat in found}
    prefix, inner = _strip_top_folder([parts for parts, _ in found])
    top = tuple(prefix.rstrip("/").split("/")) if prefix else ()
    entries = []
    for parts in inner:
        stat = stats[(*top, *parts)]
        entries.append(Entry("/".join(parts), stat.st_size, str(stat.st_mtime_ns)))
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
        data = source.read(path)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        return f"cannot read file ({error})"
    try:
        open_rgb(data, draft_size=MIN_SIDE)
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
    try:
        data = source.read(path)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ImageProblem(f"cannot read file ({error})") from None
    return resize_square(open_rgb(data, draft_size=size), size, mode)
