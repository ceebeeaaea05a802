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

      .lock               held (flock) by the one process training the run, for its whole life

Writing: :class:`RunLock` first (one writer per run), :func:`create_run_dir`, then
:class:`RunRecorder`, the loop's default subscriber.
Reading (the TUI, ``eval``, ``--export``, notebooks): :func:`list_runs`, :func:`open_run` and the
:class:`Run` methods. Readers never need to know the file names. Every reader validates what it
reads, types included, and raises :class:`~workbench.errors.RunFileError` naming the file: a
damaged run is that run's problem, which a reader of many runs reports and passes over.
Whether a run is being trained is :meth:`Run.is_live` (its lock), never the pid in status.json.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from workbench.config import SECTIONS, DataConfig, RunConfig
from workbench.engine.atomic import atomic_write_text
from workbench.engine.epoch_metrics import METRIC_COLUMNS, EpochMetrics
from workbench.engine.events import (
    EVENT_TYPES,
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
from workbench.errors import ConfigError, RunBusyError, RunFileError, UsageError

CONFIG = "config.json"
SPLIT = "split.csv"
EVENTS = "events.jsonl"
STATUS = "status.json"
METRICS_DIR = "metrics"
CHECKPOINTS_DIR = "checkpoints"
LOCK = ".lock"
SPLITS = ("train", "val")
STATES = ("running", "finished", "failed", "stopped")
HEARTBEAT_SECONDS = 2.0
"""status.json is rewritten at least this often while progress events arrive."""
LOCK_WAIT_SECONDS = 0.5
"""How long a writer retries a held lock before giving up: a reader's probe holds it shared
for microseconds, another writer for its whole life."""


# --------------------------------------------------------------------------- one writer


class RunLock:
    """The exclusive lock on ``<run>/.lock`` of the one process that writes the run.

    ``flock`` locks belong to an open file and the kernel drops them when their process dies,
    however it dies (``kill -9`` included), so a held lock means a live writer and a reused pid
    cannot fake one. The file holds the holder's pid, for messages only. Taken before anything
    is written to the run; re-entrant within a process (``workbench train`` holds it from its
    first check, and ``fit`` takes it again for callers such as a sweep).
    """

    _held: ClassVar[dict[Path, RunLock]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, run_dir: Path, fd: int) -> None:
        self.run_dir = run_dir
        self._fd = fd
        self._count = 1

    @classmethod
    def acquire(cls, run_dir: str | Path) -> RunLock:
        """Lock ``run_dir`` (created if missing); RunBusyError if another process holds it."""
        key = Path(run_dir).resolve()
        with cls._guard:
            held = cls._held.get(key)
            if held is not None:
                held._count += 1
                return held
            fd = _open_lock_file(key)
            deadline = time.monotonic() + LOCK_WAIT_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        pid = _read_lock_pid(fd)
                        os.close(fd)
                        raise RunBusyError(key, pid) from None
                    time.sleep(0.02)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            lock = cls(key, fd)
            cls._held[key] = lock
            return lock

    @classmethod
    def adopt(cls, run_dir: str | Path, holder: int) -> RunLock:
        """The lock that process ``holder`` holds for this process: the launcher of a
        torch.distributed run holds it for the run's whole life (the pid the TUI signals),
        and its rank 0 writes under it. RunBusyError unless ``holder`` holds it now."""
        key = Path(run_dir).resolve()
        if not run_is_live(key) or lock_holder(key) != holder:
            raise RunBusyError(key, lock_holder(key))
        with cls._guard:
            lock = cls(key, -1)  # no file of its own: the launcher's lock is the one
            cls._held[key] = lock
            return lock

    def release(self) -> None:
        """Drop one hold; the last one unlocks (the file stays: removing it would let a
        writer lock a file that a newer writer no longer sees)."""
        with self._guard:
            self._count -= 1
            if self._count == 0:
                del self._held[self.run_dir]
                if self._fd >= 0:
                    os.close(self._fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _open_lock_file(run_dir: Path) -> int:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        return os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            f"{run_dir}: is not a folder, so it cannot be a run directory; pick another"
        ) from None


def _read_lock_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def run_is_live(run_dir: str | Path) -> bool:
    """True while a process holds the run's lock, i.e. is training it (this process too).

    A shared, non-blocking probe: it fails only against a writer's exclusive lock, and it is
    released at once (writers retry for :data:`LOCK_WAIT_SECONDS`, so a probe never turns one
    away)."""
    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
    except OSError:
        return False  # never locked: no writer has started on it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def lock_holder(run_dir: str | Path) -> int | None:
    """The pid the lock file names (the last writer's; for messages, never for decisions)."""
    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        return _read_lock_pid(fd)
    finally:
        os.close(fd)


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
        # A resumed run keeps its config.json; a new one replaces what a launcher put there
        # (the config it was started from, without the classes and fingerprint known now).
        if not (event.resumed and config_path.exists()):
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
                world_size=event.world_size,
            )
            text = json.dumps(json_ready(document), indent=2, allow_nan=False)
            atomic_write_text(config_path, text + "\n")
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
            text = path.read_text(encoding="utf-8")
            rows = parse_metrics(text, path)  # a resume checked them; a fresh run has none
            kept = [METRIC_HEADER]
            lines = text.splitlines()[1:]
            kept += [ln for ln, row in zip(lines, rows, strict=True) if row.epoch <= epochs_done]
            if len(kept) - 1 != len(rows):
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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_named_number(value: object) -> bool:
    """A float as events.jsonl stores it: a number, or "nan"/"inf"/"-inf" (strict JSON)."""
    return _is_number(value) or value in ("nan", "inf", "-inf")


def _list_of(check: Callable[[object], bool]) -> Callable[[object], bool]:
    """A JSON list (or the tuple a checkpoint's saved config keeps) of items that pass."""
    return lambda value: isinstance(value, list | tuple) and all(check(item) for item in value)


TYPE_CHECKS: dict[str, tuple[Callable[[object], bool], str]] = {
    "int": (_is_int, "an integer"),
    "float": (_is_number, "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "str | None": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "float | None": (lambda v: v is None or _is_number(v), "a number or null"),
    "tuple[int, ...]": (_list_of(_is_int), "a list of integers"),
    "tuple[float, ...]": (_list_of(_is_number), "a list of numbers"),
    "tuple[str, ...]": (_list_of(lambda v: isinstance(v, str)), "a list of strings"),
    "dict[str, Any]": (lambda v: isinstance(v, dict), "an object"),
    "EpochMetrics": (lambda v: isinstance(v, dict), "an object"),
}
"""The JSON that each field annotation of the run files' dataclasses (the configs, the events,
EpochMetrics) accepts, and how to say it. A test checks that every annotation is in here."""

EVENT_TYPE_CHECKS = TYPE_CHECKS | {
    "float": (_is_named_number, "a number"),
    "float | None": (lambda v: v is None or _is_named_number(v), "a number or null"),
    "tuple[float, ...]": (_list_of(_is_named_number), "a list of numbers"),
}
"""events.jsonl writes non-finite floats by name (``Event.to_json``); configs never do."""


def field_problem(
    kind: type[Any],
    raw: dict[str, Any],
    where: str = "",
    checks: dict[str, tuple[Callable[[object], bool], str]] = TYPE_CHECKS,
) -> str | None:
    """Why ``raw`` cannot hold the fields of dataclass ``kind`` (a required field missing, an
    unknown one, a value of the wrong JSON type), or None. ``where`` prefixes field names."""
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        return f"unknown field {where}{unknown[0]}"
    for name, spec in fields.items():
        if name not in raw:
            optional = spec.default is not dataclasses.MISSING
            if not (optional or spec.default_factory is not dataclasses.MISSING):
                return f"{where}{name} is missing"
            continue
        check, wanted = checks[str(spec.type)]
        if not check(raw[name]):
            return f"{where}{name} must be {wanted}, not {_shown(raw[name])}"
    return None


def _shown(value: object) -> str:
    text = json.dumps(value) if _jsonable(value) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _json_kind(value: object) -> str:
    names = {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def read_text_file(path: Path) -> str:
    """A run file's text; RunFileError when it is missing, unreadable or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunFileError(path, "is missing") from None
    except UnicodeDecodeError:
        raise RunFileError(path, "is not UTF-8 text (garbage bytes)") from None
    except OSError as error:
        raise RunFileError(path, f"cannot be read ({error.strerror or error})") from None


def read_json_object(path: Path) -> dict[str, Any]:
    """A run file holding one JSON object; RunFileError naming what is wrong with it."""
    text = read_text_file(path)
    if not text.strip():
        raise RunFileError(path, "is empty")
    try:
        value = json.loads(text)
    except ValueError as error:
        where = f" (line {error.lineno})" if isinstance(error, json.JSONDecodeError) else ""
        raise RunFileError(path, f"is not valid JSON{where}: truncated or garbage") from None
    if not isinstance(value, dict):
        raise RunFileError(path, f"holds a JSON {_json_kind(value)} where an object belongs")
    return value


def config_from_document(document: dict[str, Any], path: Path) -> RunConfig:
    """The RunConfig in a config document (config.json, a checkpoint's ``config``), checked
    field by field; RunFileError naming ``path`` and the field."""
    for section, kind in SECTIONS.items():
        raw = document.get(section)
        if not isinstance(raw, dict):
            shown = "missing" if raw is None else f"a JSON {_json_kind(raw)}"
            raise RunFileError(path, f"its {section!r} section is {shown}, not an object")
        problem = field_problem(kind, raw, f"{section}.")
        if problem is not None:
            raise RunFileError(path, problem)
    try:
        return RunConfig.from_dict({k: document[k] for k in SECTIONS}).validate()
    except ConfigError as error:
        raise RunFileError(path, f"{error.field}: {error.message}") from None


STATUS_FIELDS: dict[str, str] = {
    "state": "str",
    "pid": "int",
    "heartbeat": "float",
    "epoch": "int",
    "epochs": "int",
    "best_epoch": "int",
    "best_val_accuracy": "float | None",
    "message": "str",
}
"""status.json's fields the readers use, with their types (only ``state`` is required)."""


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
    """status.json, read back; ``alive``: a process holds the run's lock (it is training)."""

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
        """``state``, except that a ``running`` run nobody holds is ``interrupted``."""
        if self.state == "running" and not self.alive:
            return "interrupted"
        return self.state

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Run:
    """A run directory, read-only. Every method re-reads its file (runs change while watched)
    and validates it: RunFileError names the file and what is wrong."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def id(self) -> str:
        return self.path.name

    def is_live(self) -> bool:
        """True while a process is training this run (it holds the run's lock)."""
        return run_is_live(self.path)

    def config_document(self) -> dict[str, Any]:
        """config.json as written: RunConfig fields plus classes, fingerprint, versions, ..."""
        path = self.path / CONFIG
        document = read_json_object(path)
        classes = document.get("classes")
        if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
            raise RunFileError(path, f"classes must be a list of names, not {_shown(classes)}")
        fingerprint = document.get("split_fingerprint", "")
        if not isinstance(fingerprint, str):
            raise RunFileError(
                path, f"split_fingerprint must be a string, not {_shown(fingerprint)}"
            )
        config_from_document(document, path)
        return document

    def config(self) -> RunConfig:
        """The run's RunConfig."""
        return config_from_document(self.config_document(), self.path / CONFIG)

    def classes(self) -> list[str]:
        return list(self.config_document()["classes"])

    def status(self) -> RunStatus | None:
        """status.json, or None if the run has not written one yet."""
        path = self.path / STATUS
        if not path.exists():
            return None
        raw = read_json_object(path)
        for name, annotation in STATUS_FIELDS.items():
            check, wanted = TYPE_CHECKS[annotation]
            if name in raw and not check(raw[name]):
                raise RunFileError(path, f"{name} must be {wanted}, not {_shown(raw[name])}")
        state = raw.get("state")
        if state not in STATES:
            raise RunFileError(
                path, f"state must be one of {', '.join(STATES)}, not {_shown(state)}"
            )
        numbers = {n: raw.get(n, 0) for n in ("pid", "epoch", "epochs", "best_epoch")}
        negative = [n for n, v in numbers.items() if v < 0]
        if negative:
            raise RunFileError(path, f"{negative[0]} must not be negative")
        best = raw.get("best_val_accuracy")
        return RunStatus(
            state=str(state),
            pid=numbers["pid"],
            heartbeat=float(raw.get("heartbeat", 0.0)),
            epoch=numbers["epoch"],
            epochs=numbers["epochs"],
            best_epoch=numbers["best_epoch"],
            best_val_accuracy=None if best is None else float(best),
            message=str(raw.get("message", "")),
            alive=self.is_live(),
        )

    def metrics(self, split: str) -> list[MetricRow]:
        """Rows of metrics/<split>.txt (``train`` or ``val``), in epoch order."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        path = self.path / METRICS_DIR / f"{split}.txt"
        if not path.exists():
            return []
        return parse_metrics(read_text_file(path), path)

    def metrics_path(self, split: str) -> Path:
        return self.path / METRICS_DIR / f"{split}.txt"

    def events(self, offset: int = 0) -> tuple[list[Event], int]:
        """Events from byte ``offset`` on, and the offset to pass next time (for tailing).

        A line still being written (no newline yet) is left for the next call. A line that is
        not an event (damaged, or of a kind a newer version writes) is passed over, so one bad
        line never stops a live view from following the rest (:meth:`check_events` is strict).
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

    def check_events(self) -> None:
        """RunFileError unless every line of events.jsonl is a whole event with fields of the
        right types (a run that is continued appends to it; a missing file is fine)."""
        path = self.path / EVENTS
        if not path.exists():
            return
        text = read_text_file(path)
        if not text:
            raise RunFileError(path, "is empty (a run records at least run_started)")
        if not text.endswith("\n"):
            raise RunFileError(path, "ends in a partial line: truncated")
        for number, line in enumerate(text.splitlines(), start=1):
            problem = _event_problem(line)
            if problem is not None:
                raise RunFileError(path, f"line {number}: {problem}")

    def check_files(self) -> None:
        """Read and validate config.json, status.json, both metric files and events.jsonl
        (what continuing the run reads or appends to); RunFileError on the first damage."""
        self.config()
        self.status()
        for split in SPLITS:
            if not self.metrics_path(split).exists():
                raise RunFileError(self.metrics_path(split), "is missing")
            self.metrics(split)
        self.check_events()

    def checkpoint_path(self, name: str = "best") -> Path:
        """checkpoints/<name>.pt (``best`` or ``last``); may not exist yet."""
        return self.path / CHECKPOINTS_DIR / f"{name}.pt"

    def split_path(self) -> Path:
        return self.path / SPLIT


def _event_problem(line: str) -> str | None:
    try:
        raw = json.loads(line)
    except ValueError:
        return "is not JSON (garbage or truncated)"
    if not isinstance(raw, dict):
        return f"holds a JSON {_json_kind(raw)} where an event object belongs"
    data = dict(raw)
    kind = EVENT_TYPES.get(str(data.pop("event", None)))
    if kind is None:
        return f"unknown event {_shown(raw.get('event'))}"
    problem = field_problem(kind, data, checks=EVENT_TYPE_CHECKS)
    if problem is None and kind is EpochEnd:
        for split in ("train", "val"):
            problem = problem or field_problem(
                EpochMetrics, data[split], f"{split}.", EVENT_TYPE_CHECKS
            )
    return problem


def parse_metrics(text: str, path: Path | None = None) -> list[MetricRow]:
    """The rows of a metrics file's text; RunFileError (naming ``path``) unless it is the
    header and then one whole row per epoch, 1, 2, 3, ... in order."""
    where = path or Path("metrics")
    if not text.strip():
        raise RunFileError(where, "is empty (not even its header)")
    if not text.endswith("\n"):
        raise RunFileError(where, "ends in a partial line: truncated")
    lines = text.splitlines()
    if lines[0] != METRIC_HEADER:
        raise RunFileError(where, f"line 1 is not the header ({' '.join(METRIC_COLUMNS)})")
    rows: list[MetricRow] = []
    for number, line in enumerate(lines[1:], start=2):
        values = line.split("\t")
        try:
            if len(values) != len(METRIC_COLUMNS):
                raise ValueError
            row = MetricRow(int(values[0]), *(float(v) for v in values[1:]))
        except ValueError:
            raise RunFileError(
                where, f"line {number} is not an epoch row of {len(METRIC_COLUMNS)} numbers"
            ) from None
        if row.epoch != len(rows) + 1:
            raise RunFileError(
                where, f"line {number} is epoch {row.epoch} where epoch {len(rows) + 1} belongs"
            )
        rows.append(row)
    return rows


def is_run_dir(path: str | Path) -> bool:
    """A folder with a run's config.json. Not yet one that holds only the config a launcher
    wrote for ``workbench train --config`` (no status.json, no classes): that run has not
    started (it is preparing its data, or died before it could), as an empty folder has not."""
    path = Path(path)
    if not (path / CONFIG).is_file():
        return False
    return (path / STATUS).exists() or not _launch_config_only(path / CONFIG)


def _launch_config_only(config_path: Path) -> bool:
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # a damaged config.json: its run's problem, which the readers report
    return isinstance(document, dict) and "classes" not in document


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
    runs: list[tuple[float, Run]] = []
    for path in root.iterdir():
        try:
            if path.is_dir() and is_run_dir(path):
                runs.append((path.joinpath(CONFIG).stat().st_mtime, Run(path)))
        except OSError:
            continue  # removed while listed
    return [run for _, run in sorted(runs, key=lambda item: item[0], reverse=True)]
