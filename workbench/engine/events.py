"""The fixed vocabulary between the training loop and anyone watching it.

:func:`workbench.engine.loop.fit` emits these frozen dataclasses, in this order::

    RunStarted (Progress* EpochEnd CheckpointSaved+)* (RunFinished | RunStopped | RunFailed)

Subscribers are plain callables ``(Event) -> None``: the run-directory recorder
(:class:`workbench.engine.runs.RunRecorder`), the CLI's rich display, the TUI. Every event
round-trips through JSON (:meth:`to_dict` / :func:`event_from_dict`), which is how
``events.jsonl`` stores them: one object per line with an ``"event"`` key naming the kind.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from workbench.engine.epoch_metrics import EpochMetrics
from workbench.engine.jsonable import json_ready


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class _Event:
    kind: ClassVar[str] = ""
    time: float = field(default_factory=_now, kw_only=True)
    """Wall-clock time (``time.time()``) when the event was made."""

    def to_dict(self) -> dict[str, Any]:
        data = {"event": self.kind}
        data.update(dataclasses.asdict(self))
        return data

    def to_json(self) -> str:
        """One strict JSON object: NaN and infinity (a validation pass has no images/s, a
        diverging loss is infinite) are written as ``"nan"``, ``"inf"``, ``"-inf"``, so any
        JSON reader (jq, JavaScript, pandas) takes every line of events.jsonl."""
        return json.dumps(json_ready(self.to_dict()), sort_keys=False, allow_nan=False)


@dataclass(frozen=True)
class RunStarted(_Event):
    """Training begins (or resumes): everything a watcher needs to lay out its display."""

    kind: ClassVar[str] = "run_started"
    run_id: str
    run_dir: str
    config: dict[str, Any]
    """The full resolved RunConfig as a dict."""
    classes: tuple[str, ...]
    device: str
    """Human description, e.g. ``cpu fp32 (2 threads)`` or ``cuda:0 NVIDIA H200 bf16``."""
    epochs: int
    start_epoch: int
    """Epochs already done (0 for a fresh run, k when resuming after epoch k)."""
    train_batches: int
    val_batches: int
    train_images: int
    val_images: int
    params: int
    mult_adds: int
    """Multiply-adds of one forward pass per image."""
    split_fingerprint: str
    resumed: bool = False
    pid: int = 0
    world_size: int = 1
    """Processes training the run (torch.distributed); 1 for one process."""


@dataclass(frozen=True)
class Progress(_Event):
    """Within an epoch; throttled to at most 4 per second (plus each phase's last batch)."""

    kind: ClassVar[str] = "progress"
    epoch: int
    """1-based epoch in progress."""
    epochs: int
    phase: str
    """``train`` or ``val``."""
    batch: int
    """Batches done in this phase (1-based)."""
    batches: int
    images_per_second: float
    loss: float
    """Running mean loss of this phase so far."""
    eta_seconds: float
    """Estimated seconds to the end of the run."""
    memory_gb: float | None = None
    """Accelerator memory held by this run (GiB, peak reserved); None on the CPU."""
    memory_total_gb: float | None = None
    """The accelerator's whole memory (GiB); None on the CPU."""


@dataclass(frozen=True)
class EpochEnd(_Event):
    """An epoch is done: train and validation metrics, the learning rate, the time it took."""

    kind: ClassVar[str] = "epoch_end"
    epoch: int
    epochs: int
    train: EpochMetrics
    val: EpochMetrics
    lr: float
    """Learning rate at the end of the epoch (of the first parameter group)."""
    seconds: float
    """Wall time of the epoch (training and validation)."""
    train_seconds: float
    images_per_second: float
    """Training images per second in this epoch."""
    best_epoch: int
    """Epoch of the best validation accuracy so far (ties: lower validation loss)."""
    best_val_accuracy: float
    improved: bool
    """This epoch is the new best (best.pt was written)."""


@dataclass(frozen=True)
class CheckpointSaved(_Event):
    """A checkpoint file was written atomically."""

    kind: ClassVar[str] = "checkpoint"
    epoch: int
    """Completed epochs in the checkpoint."""
    name: str
    """``last`` or ``best``."""
    path: str


@dataclass(frozen=True)
class RunFinished(_Event):
    """All epochs done, or early stopping ended the run."""

    kind: ClassVar[str] = "run_finished"
    epochs_done: int
    best_epoch: int
    best_val_accuracy: float
    best_val_loss: float
    seconds: float
    """Wall time of this process's training (not counting earlier, resumed-from parts)."""
    reason: str = "completed"
    """``completed`` or ``early_stopping``."""


@dataclass(frozen=True)
class RunStopped(_Event):
    """A stop was asked for (SIGINT/SIGTERM/SIGHUP or the TUI); last.pt allows ``--resume``."""

    kind: ClassVar[str] = "run_stopped"
    epochs_done: int
    """Completed epochs; last.pt may hold a part of the next one too."""
    reason: str
    """E.g. ``SIGINT`` or ``stop requested``."""
    batch: int = 0
    """Batches of the interrupted epoch already in last.pt (0: stopped at an epoch boundary)."""


@dataclass(frozen=True)
class RunFailed(_Event):
    """Training cannot go on; checkpoints of good epochs are kept."""

    kind: ClassVar[str] = "run_failed"
    message: str
    epoch: int = 0
    """1-based epoch where it failed (0: before training started)."""
    batch: int = 0
    """1-based batch where it failed (0: not in a batch)."""
    error: str = ""
    """Exception type, e.g. ``NonFiniteLossError``."""


Event = RunStarted | Progress | EpochEnd | CheckpointSaved | RunFinished | RunStopped | RunFailed
Subscriber = Callable[[Event], None]

EVENT_TYPES: dict[str, type[Any]] = {
    cls.kind: cls
    for cls in (RunStarted, Progress, EpochEnd, CheckpointSaved, RunFinished, RunStopped, RunFailed)
}


def event_from_dict(raw: dict[str, Any]) -> Event:
    """Rebuild an event from :meth:`to_dict`'s output (e.g. one line of events.jsonl)."""
    data = dict(raw)
    kind = data.pop("event", None)
    cls = EVENT_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    if cls is EpochEnd:
        data["train"] = EpochMetrics.from_dict(data["train"])
        data["val"] = EpochMetrics.from_dict(data["val"])
    if cls is RunStarted:
        data["classes"] = tuple(data["classes"])
    fields = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    for name, kind in fields.items():
        if kind.startswith("float") and isinstance(data.get(name), str):
            data[name] = float(data[name])  # "nan", "inf", "-inf" as to_json wrote them
    event: Event = cls(**{k: v for k, v in data.items() if k in fields})
    return event


def event_from_json(line: str) -> Event:
    return event_from_dict(json.loads(line))
