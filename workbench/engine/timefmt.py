"""Durations as people read them, one spelling for the CLI, the TUI and the exports.

Plain strings, no rich and no Textual, so that the engine may use it too.
"""

from __future__ import annotations

import math

UNKNOWN = "--"
"""What a duration that cannot be known (NaN, infinite: no ETA yet) is shown as."""


def duration_text(seconds: float) -> str:
    """``"4m07s"`` under an hour, ``"2h05m"`` from an hour on; ``"--"`` when not finite.

    A negative duration (a clock stepped back between two readings) shows as ``"0m00s"`` rather
    than as a nonsense negative time.
    """
    if not math.isfinite(seconds):
        return UNKNOWN
    whole = int(max(seconds, 0.0))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
