"""Module-level functions for pool tests: spawned workers import them by name."""

from __future__ import annotations

import os
from collections.abc import Sequence


def niceness(chunk: Sequence[int]) -> int:
    """The niceness of the process that ran this chunk."""
    return os.nice(0)
