"""The cache folder: where it is, how its keys are hashed, and clearing what killed runs left.

Everything under it can be rebuilt (scan records, decoded images, the demo set), so its keys
must be stable across machines and Python versions: :func:`short_hash` hashes a JSON form,
never Python's ``hash``. A leaf module, so that the scan, the decode cache and the demo set can
all use it without importing one another.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

STALE_AFTER_S = 3600.0
"""Temporary files and folders older than this were left by a killed process: removed."""


def default_cache_dir() -> Path:
    """The user's cache folder for the workbench (e.g. ~/.cache/workbench)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("workbench"))


def resolve_cache_dir(cache_dir: str | Path | None) -> Path:
    """``--cache-dir`` as a path (``~`` expanded), or the user's default cache folder."""
    return Path(cache_dir).expanduser() if cache_dir else default_cache_dir()


def short_hash(*parts: Any, length: int = 16) -> str:
    """A short hex digest of the JSON form of ``parts`` (stable across machines)."""
    text = json.dumps(parts, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def remove_stale(folder: Path, pattern: str, max_age_s: float = STALE_AFTER_S) -> None:
    """Remove entries of ``folder`` matching ``pattern`` last modified over ``max_age_s`` ago."""
    now = time.time()
    for entry in folder.glob(pattern):
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > max_age_s:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink()
