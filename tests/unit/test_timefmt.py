"""duration_text: the one spelling of a duration, for the CLI, the TUI and the exports."""

from __future__ import annotations

import math

import pytest

from workbench.engine.timefmt import duration_text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0m00s"),
        (0.999, "0m00s"),
        (59.9, "0m59s"),
        (60, "1m00s"),
        (247, "4m07s"),
        (3599, "59m59s"),
        (3600, "1h00m"),
        (7530, "2h05m"),
        (100 * 3600 + 59, "100h00m"),
    ],
)
def test_minutes_and_seconds_under_an_hour_hours_and_minutes_from_one(
    seconds: float, text: str
) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -math.inf])
def test_a_duration_that_cannot_be_known_is_a_dash(seconds: float) -> None:
    assert duration_text(seconds) == "--"


@pytest.mark.parametrize("seconds", [-0.5, -5, -7200])
def test_a_negative_duration_is_shown_as_none_not_as_a_negative_time(seconds: float) -> None:
    assert duration_text(seconds) == "0m00s"
