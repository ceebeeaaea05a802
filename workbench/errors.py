"""Errors that carry a message meant for the user.

The CLI turns :class:`UsageError` (and its subclasses) into one line on stderr and exit code 2;
anything else is an internal failure (exit code 1). The engine raises these, never prints.
"""

from __future__ import annotations

import errno
from pathlib import Path

EXIT_STOPPED = 130
"""The exit status of a command stopped by a signal (a training run or sweep stops cleanly and
can be resumed): what the CLI returns and what the TUI does not report as a failure."""


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


class RunFileError(UsageError):
    """A file of a run directory is damaged (truncated, empty, of the wrong JSON type, with
    values of the wrong type, garbage lines) or does not fit its run: that run's problem, which
    readers of several runs report and pass over. ``path`` is the file, ``problem`` what is
    wrong with it (without the path), for tables that show the run's name already."""

    def __init__(self, path: str | Path, problem: str, advice: str | None = None) -> None:
        self.path = Path(path)
        self.problem = problem
        advice = RUN_FILE_ADVICE if advice is None else advice
        super().__init__(f"{self.path}: {problem}" + (f"; {advice}" if advice else ""))


RUN_FILE_ADVICE = "restore it from a copy, or move the run out of the runs folder"
"""What a user can do about a damaged run file (the workbench never repairs one itself)."""


class RunBusyError(UsageError):
    """Another process holds the run directory's lock: it is training that run right now."""

    def __init__(self, run_dir: str | Path, pid: int | None) -> None:
        self.run_dir = Path(run_dir)
        self.pid = pid
        who = f" (pid {pid})" if pid else ""
        how = f" (kill -INT {pid})" if pid else ""
        super().__init__(
            f"{self.run_dir}: another process is training this run{who}; "
            f"wait for it to end or stop it{how}"
        )


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


_PATH_PROBLEMS = {
    errno.ENOENT: "does not exist",
    errno.ENOTDIR: "cannot be used: a part of this path is a file, not a folder",
    errno.EISDIR: "is a folder, where a file is needed",
    errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "is too long a name for the file system",
    errno.ELOOP: "goes round a loop of symbolic links",
}
"""What an error number means for the path it names, in a user's words (no ``[Errno 20]``)."""


def user_message(error: BaseException) -> str:
    """One sentence about ``error`` for a user who never sees a traceback (the TUI's status
    lines and notifications): a UsageError's own message; for a file error, the path and what
    is wrong with it in plain words; anything else, its type and message."""
    if isinstance(error, UsageError):
        return str(error)
    if isinstance(error, OSError):
        storage = storage_message(error)
        if storage is not None:
            return storage
        problem = _PATH_PROBLEMS.get(error.errno or 0)
        if problem is not None and error.filename:
            return f"{error.filename} {problem}"
        what = error.strerror or str(error)
        return f"{error.filename}: {what.lower()}" if error.filename else what
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
