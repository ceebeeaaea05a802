"""Atomic file writes: a reader never sees half a file, a crash never leaves one.

Everything a user keeps (manifests, caches, run files, checkpoints, exports) is written to a
temporary file in the destination's folder and moved into place with ``os.replace``, which is
atomic on POSIX and Windows when both paths are on one file system.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(destination: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``destination`` atomically.

    On an exception the temporary file is removed and ``destination`` is left untouched.
    The temporary name keeps the destination's suffix, so libraries that pick a format from
    the file name (matplotlib, PIL) still do the right thing.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=f".tmp{destination.suffix}", dir=destination.parent
    )
    os.close(handle)
    temp_path = Path(temporary)
    try:
        yield temp_path
        with open(temp_path, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temp_path, destination)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(destination: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``destination`` atomically; return the destination."""
    with atomic_path(destination) as temporary:
        temporary.write_bytes(data)
    return Path(destination)


def atomic_write_text(destination: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``destination`` atomically; return the destination."""
    return atomic_write_bytes(destination, text.encode("utf-8"))
