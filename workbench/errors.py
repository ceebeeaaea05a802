"""Errors that carry a message meant for the user.

The CLI turns :class:`UsageError` (and its subclasses) into one line on stderr and exit code 2;
anything else is an internal failure (exit code 1). The engine raises these, never prints.
"""

from __future__ import annotations


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
