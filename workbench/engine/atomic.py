"""Atomic file writes: a reader never sees half a file, a crash never leaves one.

Everything a user keeps (manifests, caches, run files, checkpoints, exports) is written to a
temporary file in the destination's folder and moved into place with ``os.replace``, which is
atomic on POSIX and Windows when both paths are on one file system.
"""

from __future__ import annotations

import os
import secrets
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
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        temp_path = _create_temporary(destination)
    except OSError as error:
        raise _naming(error, destination) from error
    try:
        yield temp_path
        with open(temp_path, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temp_path, destination)
    except OSError as error:
        temp_path.unlink(missing_ok=True)
        raise _naming(error, destination, temp_path) from error
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise


def _naming(error: OSError, destination: Path, temporary: Path | None = None) -> OSError:
    """``error`` about the user's file: a full disk or a denied folder is reported for
    ``destination``, not for the hidden temporary file that was being written."""
    ours = {None, str(temporary)} if temporary is not None else {None}
    if error.errno is None or error.filename not in ours:
        return error  # already about the destination, or about some other file
    return type(error)(error.errno, error.strerror, str(destination))


def _create_temporary(destination: Path) -> Path:
    """An empty new file beside ``destination``, with the permissions a plain ``open`` gives.

    ``tempfile.mkstemp`` would make it owner-only (0600), and the rename would carry that over
    to the user's files; ``os.open`` with 0666 lets the umask decide, as for any other file.
    """
    while True:
        name = f".{destination.name}.{secrets.token_hex(4)}.tmp{destination.suffix}"
        temporary = destination.parent / name
        try:
            handle = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            continue
        os.close(handle)
        return temporary


def atomic_write_bytes(destination: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``destination`` atomically; return the destination."""
    with atomic_path(destination) as temporary:
        temporary.write_bytes(data)
    return Path(destination)


def atomic_write_text(destination: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``destination`` atomically; return the destination."""
    return atomic_write_bytes(destination, text.encode("utf-8"))
