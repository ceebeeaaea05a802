"""Errors that carry a message meant for the user.

The CLI turns :class:`UsageError` (and its subclasses) into one line on stderr and exit code 2;
anything else is an internal failure (exit code 1). The engine raises these, never prints.
"""

from __future__ import annotations

import errno


class UsageError(Exception):
    """Bad usage or bad input: the message says what, where, and what to do."""


class ConfigError(UsageError):
    """A configuration value is invalid; ``field`` names it so forms can mark it inline."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DataError(UsageError):
    """The data set cannot be used as given (missing folder, too few images, ...)."""


_STORAGE_PROBLEMS = {
    errno.ENOSPC: "no space left on its disk",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def storage_message(error: OSError) -> str | None:
    """One line for a file that could not be written for a reason of the machine's (a full
    disk, a quota, a read-only or someone else's folder): what, where and what to do.
    None for any other error, which stays an internal failure with its traceback."""
    problem = _STORAGE_PROBLEMS.get(error.errno or 0)
    if problem is None:
        return None
    where = f"{error.filename}: " if error.filename else ""
    return (
        f"{where}{problem}; free some space or write elsewhere "
        "(--run-dir/--runs-root for runs, --out for exports, --cache-dir for the image cache)"
    )
