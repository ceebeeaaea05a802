from __future__ import annotations

import dataclasses
import json

import pytest

from tests.support.tiny_loop import METRICS
from workbench.engine.events import (
    EVENT_TYPES,
    CheckpointSaved,
    EpochEnd,
    Progress,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    event_from_dict,
    event_from_json,
)

EXAMPLES = [
    RunStarted(
        run_id="r",
        run_dir="/tmp/r",
        config={"train": {"epochs": 2}},
        classes=("a", "b"),
        device="cpu fp32",
        epochs=2,
        start_epoch=0,
        train_batches=5,
        val_batches=1,
        train_images=40,
        val_images=6,
        params=1000,
        mult_adds=20000,
        split_fingerprint="abc",
    ),
    Progress(
        epoch=1,
        epochs=2,
        phase="train",
        batch=2,
        batches=5,
        images_per_second=10.0,
        loss=0.7,
        eta_seconds=3.0,
    ),
    Progress(
        epoch=1,
        epochs=2,
        phase="val",
        batch=1,
        batches=1,
        images_per_second=900.0,
        loss=0.6,
        eta_seconds=1.0,
        memory_gb=4.1,
        memory_total_gb=139.8,
    ),
    EpochEnd(
        epoch=1,
        epochs=2,
        train=METRICS,
        val=METRICS,
        lr=1e-3,
        seconds=2.0,
        train_seconds=1.5,
        images_per_second=26.7,
        best_epoch=1,
        best_val_accuracy=0.75,
        improved=True,
    ),
    CheckpointSaved(epoch=1, name="last", path="/tmp/r/checkpoints/last.pt"),
    RunFinished(epochs_done=2, best_epoch=1, best_val_accuracy=0.75, best_val_loss=0.5, seconds=4),
    RunStopped(epochs_done=1, reason="SIGINT", batch=3),
    RunFailed(message="non-finite loss", epoch=2, batch=3, error="nonfinite"),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_through_json(event: object) -> None:
    line = event.to_json()  # type: ignore[attr-defined]
    raw = json.loads(line)
    assert raw["event"] == type(event).kind  # type: ignore[attr-defined]
    assert event_from_json(line) == event
    assert "\n" not in line


def test_every_kind_has_an_example_and_unknown_kinds_are_refused() -> None:
    assert {type(e).kind for e in EXAMPLES} == set(EVENT_TYPES)
    with pytest.raises(ValueError, match="unknown event"):
        event_from_dict({"event": "nope"})


def test_events_are_frozen() -> None:
    with pytest.raises(AttributeError):
        EXAMPLES[3].epoch = 2  # type: ignore[misc]


def _strict(line: str) -> dict[str, object]:
    """json.loads that refuses NaN and Infinity, as JavaScript, jq or a strict reader would."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(line, parse_constant=refuse)  # type: ignore[no-any-return]


def test_non_finite_numbers_are_strict_json_and_come_back_as_floats() -> None:
    """A validation Progress has no images/s (NaN); a diverging validation loss is infinite."""
    import math

    progress = Progress(
        epoch=1, epochs=2, phase="val", batch=1, batches=1,
        images_per_second=math.nan, loss=math.inf, eta_seconds=-math.inf,
    )  # fmt: skip
    raw = _strict(progress.to_json())
    assert (raw["images_per_second"], raw["loss"], raw["eta_seconds"]) == ("nan", "inf", "-inf")
    back = event_from_json(progress.to_json())
    assert isinstance(back, Progress)
    assert math.isnan(back.images_per_second)
    assert (back.loss, back.eta_seconds) == (math.inf, -math.inf)
    diverged = dataclasses.replace(METRICS, loss=math.inf)
    end = dataclasses.replace(EXAMPLES[3], val=diverged)
    assert event_from_json(end.to_json()) == end
    _strict(end.to_json())


def test_events_written_before_strict_json_still_read() -> None:
    """events.jsonl of older runs has bare NaN, which Python's json reads."""
    import math

    line = (
        '{"event": "progress", "time": 1.0, "epoch": 1, "epochs": 2, "phase": "val", "batch": 1,'
        ' "batches": 1, "images_per_second": NaN, "loss": 0.5, "eta_seconds": 1.0}'
    )
    event = event_from_json(line)
    assert isinstance(event, Progress) and math.isnan(event.images_per_second)
