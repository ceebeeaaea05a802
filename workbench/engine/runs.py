"""The run directory: create it, record a run into it, and read it back.

The layout is the contract of ``DESIGN.md`` (every writer below is atomic or append+flush)::

    runs/<run-id>/
      config.json         RunConfig fields (data/model/train) + run_id, classes, split
                          fingerprint, device, library versions, created
      split.csv           path,class,split for every image
      metrics/train.txt   tab-separated, header ``epoch loss accuracy precision recall f1 lr
      metrics/val.txt     seconds``, one row per epoch
      events.jsonl        one JSON event per line (see workbench.engine.events)
      status.json         state, pid, heartbeat, epoch, epochs, best, message
      checkpoints/last.pt, checkpoints/best.pt

Writing: :func:`create_run_dir`, then :class:`RunRecorder`, the loop's default subscriber.
Reading (the TUI, ``eval``, ``--export``, notebooks): :func:`list_runs`, :func:`open_run` and the
:class:`Run` methods. Readers never need to know the file names.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.config import DataConfig, RunConfig
from workbench.engine.atomic import atomic_write_text
from workbench.engine.epoch_metrics import METRIC_COLUMNS, EpochMetrics
from workbench.engine.events import (
    CheckpointSaved,
    EpochEnd,
    Event,
    Progress,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    event_from_dict,
)
from workbench.engine.jsonable import json_ready
from workbench.engine.process import pid_alive
from workbench.errors import UsageError

CONFIG = "config.json"
SPLIT = "split.csv"
EVENTS = "events.jsonl"
STATUS = "status.json"
METRICS_DIR = "metrics"
CHECKPOINTS_DIR = "checkpoints"
SPLITS = ("train", "val")
STATES = ("running", "finished", "failed", "stopped")
HEARTBEAT_SECONDS = 2.0
"""status.json is rewritten at least this often while progress events arrive."""


# --------------------------------------------------------------------------- writing


def new_run_id(data: DataConfig, now: datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-<data name>-s<size>``, e.g. ``20261129-183000-animals-s128``."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = Path(data.data).stem if data.data else "demo"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "data"
    return f"{stamp}-{name}-s{data.image_size}"


def create_run_dir(root: str | Path, run_id: str) -> Path:
    """Create ``root/run_id`` (``-2``, ``-3``, ... appended if it exists) and return it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        candidate = root / (run_id if attempt == 1 else f"{run_id}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise UsageError(f"{root}: cannot find a free run directory name for {run_id}")


def format_metric_row(epoch: int, metrics: EpochMetrics, lr: float, seconds: float) -> str:
    """One line of metrics/<split>.txt (no newline): fixed formats, so equal runs are equal."""
    values = (
        str(epoch),
        f"{metrics.loss:.6f}",
        f"{metrics.accuracy:.6f}",
        f"{metrics.precision:.6f}",
        f"{metrics.recall:.6f}",
        f"{metrics.f1:.6f}",
        f"{lr:.6e}",
        f"{seconds:.3f}",
    )
    return "\t".join(values)


METRIC_HEADER = "\t".join(METRIC_COLUMNS)


class RunRecorder:
    """The loop's default subscriber: turns events into the run directory's files.

    ``config.json`` is written once, by the first RunStarted (a resumed run keeps it); metric
    rows are appended at EpochEnd; every event is appended to events.jsonl and flushed;
    status.json is rewritten atomically on every state change and heartbeat. Checkpoints are
    written by the loop itself (it owns the state) before it emits CheckpointSaved.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / METRICS_DIR).mkdir(exist_ok=True)
        (self.run_dir / CHECKPOINTS_DIR).mkdir(exist_ok=True)
        self._status: dict[str, Any] = {}
        self._last_beat = 0.0

    def __call__(self, event: Event) -> None:
        self._append_event(event)
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, EpochEnd):
            self._epoch_end(event)
        elif isinstance(event, Progress):
            if event.time - self._last_beat >= HEARTBEAT_SECONDS:
                self._write_status(phase=event.phase, batch=event.batch, batches=event.batches)
        elif isinstance(event, CheckpointSaved):
            pass
        elif isinstance(event, RunFinished):
            self._write_status(state="finished", message=f"finished ({event.reason})")
        elif isinstance(event, RunStopped):
            message = f"stopped by {event.reason} after epoch {event.epochs_done}"
            self._write_status(state="stopped", message=message)
        elif isinstance(event, RunFailed):
            self._write_status(state="failed", message=event.message)

    def _append_event(self, event: Event) -> None:
        with open(self.run_dir / EVENTS, "a", encoding="utf-8") as handle:
            handle.write(event.to_json() + "\n")
            handle.flush()

    def _started(self, event: RunStarted) -> None:
        config_path = self.run_dir / CONFIG
        if not config_path.exists():
            document = dict(event.config)
            document.update(
                run_id=event.run_id,
                classes=list(event.classes),
                split_fingerprint=event.split_fingerprint,
                device=event.device,
                versions=library_versions(),
                host=socket.gethostname(),
                created=datetime.fromtimestamp(event.time).isoformat(timespec="seconds"),
                params=event.params,
                mult_adds=event.mult_adds,
            )
            atomic_write_text(config_path, json.dumps(document, indent=2) + "\n")
        self._truncate_metrics(event.start_epoch)
        self._status = {
            "run_id": event.run_id,
            "state": "running",
            "pid": event.pid or os.getpid(),
            "started": event.time,
            "epoch": event.start_epoch,
            "epochs": event.epochs,
            "device": event.device,
            "best_epoch": 0,
            "best_val_accuracy": None,
            "message": "resumed" if event.resumed else "started",
        }
        self._write_status()

    def _truncate_metrics(self, epochs_done: int) -> None:
        """Keep rows of epochs <= epochs_done (a resume after a kill may find one row more)."""
        for split in SPLITS:
            path = self.run_dir / METRICS_DIR / f"{split}.txt"
            if not path.exists():
                atomic_write_text(path, METRIC_HEADER + "\n")
                continue
            lines = path.read_text(encoding="utf-8").splitlines()
            kept = [METRIC_HEADER]
            kept += [ln for ln in lines[1:] if ln.strip() and int(ln.split("\t")[0]) <= epochs_done]
            if kept != lines:
                atomic_write_text(path, "\n".join(kept) + "\n")

    def _epoch_end(self, event: EpochEnd) -> None:
        for split, metrics in (("train", event.train), ("val", event.val)):
            seconds = (
                event.train_seconds if split == "train" else event.seconds - event.train_seconds
            )
            row = format_metric_row(event.epoch, metrics, event.lr, seconds)
            with open(self.run_dir / METRICS_DIR / f"{split}.txt", "a", encoding="utf-8") as handle:
                handle.write(row + "\n")
                handle.flush()
        self._write_status(
            epoch=event.epoch,
            best_epoch=event.best_epoch,
            best_val_accuracy=event.best_val_accuracy,
            val_accuracy=event.val.accuracy,
            val_loss=event.val.loss,
            phase=None,
            message=f"epoch {event.epoch}/{event.epochs} done",
        )

    def _write_status(self, **changes: Any) -> None:
        now = time.time()
        self._status.update(changes)
        self._status["heartbeat"] = now
        self._last_beat = now
        document = json.dumps(json_ready(self._status), indent=2, allow_nan=False)
        atomic_write_text(self.run_dir / STATUS, document + "\n")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that decide a run's numbers."""
    import platform

    import numpy
    import sklearn
    import torch

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "sklearn": sklearn.__version__,
    }
    try:
        import torchvision

        versions["torchvision"] = torchvision.__version__
    except ImportError:  # pragma: no cover
        pass
    if torch.version.cuda:
        versions["cuda"] = str(torch.version.cuda)
    return versions


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class MetricRow:
    """One row of metrics/train.txt or metrics/val.txt."""

    epoch: int
    loss: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    lr: float
    seconds: float


@dataclass(frozen=True)
class RunStatus:
    """status.json, read back; ``alive`` says whether a ``running`` run's process still lives."""

    state: str
    pid: int
    heartbeat: float
    epoch: int
    epochs: int
    best_epoch: int = 0
    best_val_accuracy: float | None = None
    message: str = ""
    alive: bool = False

    @property
    def effective_state(self) -> str:
        """``state``, except that a ``running`` run whose process is gone is ``interrupted``."""
        if self.state == "running" and not self.alive:
            return "interrupted"
        return self.state

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Run:
    """A run directory, read-only. Every method re-reads its file (runs change while watched)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def id(self) -> str:
        return self.path.name

    def config_document(self) -> dict[str, Any]:
        """config.json as written: RunConfig fields plus classes, fingerprint, versions, ..."""
        document: dict[str, Any] = json.loads((self.path / CONFIG).read_text(encoding="utf-8"))
        return document

    def config(self) -> RunConfig:
        """The run's RunConfig."""
        document = self.config_document()
        return RunConfig.from_dict({k: document[k] for k in ("data", "model", "train")})

    def classes(self) -> list[str]:
        return list(self.config_document()["classes"])

    def status(self) -> RunStatus | None:
        """status.json, or None if the run has not written one yet."""
        path = self.path / STATUS
        if not path.exists():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        pid = int(raw.get("pid", 0))
        return RunStatus(
            state=str(raw.get("state", "running")),
            pid=pid,
            heartbeat=float(raw.get("heartbeat", 0.0)),
            epoch=int(raw.get("epoch", 0)),
            epochs=int(raw.get("epochs", 0)),
            best_epoch=int(raw.get("best_epoch", 0)),
            best_val_accuracy=raw.get("best_val_accuracy"),
            message=str(raw.get("message", "")),
            alive=pid_alive(pid),
        )

    def metrics(self, split: str) -> list[MetricRow]:
        """Rows of metrics/<split>.txt (``train`` or ``val``), in epoch order."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        path = self.path / METRICS_DIR / f"{split}.txt"
        if not path.exists():
            return []
        return parse_metrics(path.read_text(encoding="utf-8"))

    def metrics_path(self, split: str) -> Path:
        return self.path / METRICS_DIR / f"{split}.txt"

    def events(self, offset: int = 0) -> tuple[list[Event], int]:
        """Events from byte ``offset`` on, and the offset to pass next time (for tailing).

        A line still being written (no newline yet) is left for the next call. A line that is
        not an event (damaged, or of a kind a newer version writes) is passed over, so one bad
        line never stops a live view from following the rest.
        """
        path = self.path / EVENTS
        if not path.exists():
            return [], offset
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        events = []
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                events.append(event_from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                continue
        return events, offset + end

    def checkpoint_path(self, name: str = "best") -> Path:
        """checkpoints/<name>.pt (``best`` or ``last``); may not exist yet."""
        return self.path / CHECKPOINTS_DIR / f"{name}.pt"

    def split_path(self) -> Path:
        return self.path / SPLIT


def parse_metrics(text: str) -> list[MetricRow]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        values = dict(zip(header, line.split("\t"), strict=True))
        rows.append(
            MetricRow(
                epoch=int(values["epoch"]),
                **{c: float(values[c]) for c in METRIC_COLUMNS if c != "epoch"},
            )
        )
    return rows


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / CONFIG).is_file()


def open_run(path: str | Path) -> Run:
    """The run at ``path``; UsageError if it is not a run directory."""
    if not is_run_dir(path):
        raise UsageError(f"{path}: not a run directory (no {CONFIG})")
    return Run(path)


def list_runs(root: str | Path = "runs") -> list[Run]:
    """Run directories directly under ``root``, newest first (by config.json's mtime)."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [Run(p) for p in root.iterdir() if p.is_dir() and is_run_dir(p)]
    return sorted(runs, key=lambda r: (r.path / CONFIG).stat().st_mtime, reverse=True)
