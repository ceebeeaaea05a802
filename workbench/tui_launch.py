"""What the TUI does to a training process and its run directory; no Textual in here.

* :func:`start_training` runs ``workbench train …`` as its own process in a new session, so the
  run survives the TUI closing and an SSH drop; its stdout and stderr go to
  ``<runs root>/.tui-logs/<run id>.log``. :func:`stop_training` sends it SIGINT (the loop
  finishes the batch, writes ``last.pt`` and marks the run stopped).
* :class:`RunTail` follows a run directory: each :meth:`RunTail.poll` reads ``status.json`` and
  only the bytes appended to ``events.jsonl`` since the last poll (through the engine's reader,
  :class:`workbench.engine.runs.Run`, imported lazily: it pulls in torch), and folds the new
  events into a :class:`RunState` that the screens draw.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.config import RunConfig, offered_field
from workbench.engine.events import (
    CheckpointSaved,
    EpochEnd,
    Event,
    Progress,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
)
from workbench.engine.process import pid_alive
from workbench.errors import EXIT_STOPPED, RunFileError

if TYPE_CHECKING:
    from workbench.engine.runs import RunStatus

STALE_HEARTBEAT_S = 120.0
"""A running run whose process is gone, or silent this long, is shown as lost."""


def train_argv(run_dir: Path, *, config_file: Path | None = None) -> list[str]:
    """The ``workbench train`` command line writing into ``run_dir``: a new run from
    ``config_file`` (see :func:`new_run`), or, without one, the stopped run resumed."""
    argv = [sys.executable, "-m", "workbench", "train", "--run-dir", str(run_dir)]
    if config_file is None:
        return [*argv, "--resume"]
    return [*argv, "--config", str(config_file)]


def new_run(runs_root: Path, config: RunConfig) -> tuple[Path, list[str]]:
    """A fresh run directory named like the CLI's, with ``config`` written into it as its
    config.json, and the command line that trains it (``workbench train`` takes a --run-dir
    that holds nothing but the config.json its --config names). Uses the engine's naming and
    atomic writer, so the engine must be loaded."""
    from workbench.engine.atomic import atomic_write_text
    from workbench.engine.runs import CONFIG, create_run_dir, new_run_id

    run_dir = create_run_dir(runs_root, new_run_id(config.data))
    config_file = run_dir / CONFIG
    atomic_write_text(config_file, config.to_json() + "\n")
    return run_dir, train_argv(run_dir, config_file=config_file)


def sweep_argv(
    grid: tuple[str, ...],
    *,
    data: str | None,
    cache_dir: str | None,
    runs_root: Path,
    epochs: int,
    image_size: int,
    parallel: int = 1,
) -> list[str]:
    """The ``workbench sweep`` command line for a grid (its folder goes under ``runs_root``);
    ``parallel`` runs at once."""
    values = {"data": data, "cache_dir": cache_dir, "epochs": epochs, "image_size": image_size}
    argv = [sys.executable, "-m", "workbench", "sweep", "--grid", *grid]
    for name, value in values.items():
        offered = offered_field(name)
        if value not in (None, "") and offered is not None:
            argv += [offered.flag, offered.text(value)]
    if parallel > 1:
        argv += ["--parallel", str(parallel)]
    return [*argv, "--runs-root", str(runs_root)]


def launch_log_path(run_dir: Path) -> Path:
    """Where the launched process's stdout and stderr go: beside the run directory, in
    ``<runs root>/.tui-logs/`` (``workbench train`` refuses a --run-dir that is not empty)."""
    return run_dir.parent / ".tui-logs" / f"{run_dir.name}.log"


@dataclass
class Launched:
    """A process this TUI started, until its exit has been reported."""

    process: subprocess.Popen[bytes]
    what: str
    """What it is, in the user's words: "the sweep", "training run r-0412"."""
    log_path: Path


@dataclass(frozen=True)
class LaunchFailed:
    """A launched process that exited with an error, and the error as its log last says it."""

    what: str
    pid: int
    returncode: int
    log_path: Path
    error: str
    """The last meaningful line of its log (empty: it printed nothing)."""


LAUNCHED: list[Launched] = []
"""Every process started by :func:`start_training` whose exit :func:`failed_launches` has not
reported yet. Module level, because every screen that starts one (Train, Runs) goes through
:func:`start_training`, and the app polls them all in one place."""


def start_training(
    argv: list[str], run_dir: Path, *, log_path: Path | None = None, what: str | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session, its output appended to ``log_path`` (default:
    :func:`launch_log_path` of ``run_dir``). It is watched: if it exits with an error,
    :func:`failed_launches` reports it (``what``: its name there; default "training run
    <run dir name>")."""
    log_path = log_path or launch_log_path(run_dir)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    LAUNCHED.append(Launched(process, what or f"training run {run_dir.name}", log_path))
    return process


def failed_launches() -> list[LaunchFailed]:
    """The watched processes that have exited since the last call, those that failed (not 0,
    not :data:`~workbench.errors.EXIT_STOPPED`) with their error; each is reported once, and
    reaped."""
    failed = []
    for launched in list(LAUNCHED):
        code = launched.process.poll()
        if code is None:
            continue
        LAUNCHED.remove(launched)
        if code not in (0, EXIT_STOPPED, -signal.SIGINT):
            error = last_log_line(launched.log_path)
            pid = launched.process.pid
            failed.append(LaunchFailed(launched.what, pid, code, launched.log_path, error))
    return failed


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def last_log_line(log_path: Path) -> str:
    """The last line of a log that says something: escape codes, blank lines and lines with no
    letter (progress bars, rules) are passed over."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16384))  # the end is enough, however long the log
            text = log.read().decode(errors="replace")
    except OSError:
        return ""
    for line in reversed(text.replace("\r", "\n").splitlines()):
        line = ANSI.sub("", line).strip()
        if any(ch.isalpha() for ch in line):
            return line
    return ""


def stop_training(pid: int) -> bool:
    """Ask the training process to stop (SIGINT); False if it is not there any more."""
    try:
        os.kill(pid, signal.SIGINT)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def launch_log_tail(run_dir: Path, lines: int = 8) -> str:
    """The last lines of the launched process's output (for a run that died early)."""
    try:
        text = launch_log_path(run_dir).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass
class RunState:
    """Everything the live view shows, folded from a run's events and status."""

    run_dir: Path
    run_id: str = ""
    state: str = "waiting"
    """waiting (no events yet), running, finished, stopped, failed or lost."""
    pid: int = 0
    device: str = ""
    classes: tuple[str, ...] = ()
    epochs: int = 0
    epoch: int = 0
    """Epoch in progress (or last completed when not running)."""
    phase: str = ""
    batch: int = 0
    batches: int = 0
    images_per_second: float = 0.0
    eta_seconds: float = 0.0
    memory: str = ""
    """Accelerator memory, e.g. "4.1/139 GiB" (empty on the CPU)."""
    params: int = 0
    train: dict[str, list[float]] = field(default_factory=dict)
    """Metric name -> one value per completed epoch (loss, accuracy, precision, recall, f1)."""
    val: dict[str, list[float]] = field(default_factory=dict)
    epoch_numbers: list[int] = field(default_factory=list)
    batch_loss: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=4000))
    """(fractional epoch, running training loss) from the progress events."""
    best_epoch: int = 0
    best_val_accuracy: float = 0.0
    message: str = ""
    """Why a run failed or stopped, in plain words."""
    log: list[str] = field(default_factory=list)
    """Lines for the event log (new ones are appended)."""
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state in ("waiting", "running")


METRICS = ("loss", "accuracy", "precision", "recall", "f1")


def training_is_going(state: RunState) -> bool:
    """Whether the run's training process is still there: it holds the run's lock (the kernel
    drops it on any death, so a reused pid fools no one). A run still ``waiting`` has no lock
    yet (its process is importing): then whether the process the TUI launched is alive."""
    from workbench.engine.runs import run_is_live

    if state.state == "waiting":
        return bool(state.pid) and pid_alive(state.pid)
    return run_is_live(state.run_dir)


@dataclass(frozen=True)
class LiveTraining:
    """A run that a process is training now, and that process."""

    run_dir: Path
    pid: int | None
    """The process to ask to stop: the one holding the run's lock (None: it names none)."""

    @property
    def name(self) -> str:
        """The run's id, with its sweep's folder for a run inside a sweep."""
        parent = self.run_dir.parent.name
        return f"{parent}/{self.run_dir.name}" if parent.startswith("sweep") else self.run_dir.name


def live_training(state: RunState) -> LiveTraining | None:
    """The watched run if its training process is there (:func:`training_is_going`): the pid
    is the lock's holder's, or, before the process took the lock, the one the TUI launched."""
    from workbench.engine.runs import lock_holder, run_is_live

    if run_is_live(state.run_dir):
        return LiveTraining(state.run_dir, lock_holder(state.run_dir) or state.pid or None)
    if state.state == "waiting" and state.pid and pid_alive(state.pid):
        return LiveTraining(state.run_dir, state.pid)
    return None


def live_trainings(runs_root: Path, watched: RunState | None = None) -> list[LiveTraining]:
    """Every run being trained now: the watched one first, then those under ``runs_root`` whose
    lock is held (runs inside a sweep's folder too), whoever started them."""
    from workbench.engine.runs import lock_holder, run_is_live
    from workbench.engine.sweep import is_sweep_dir

    found = [live] if watched is not None and (live := live_training(watched)) else []
    seen = {item.run_dir.resolve() for item in found}
    try:
        folders = [p for p in Path(runs_root).iterdir() if p.is_dir()]
        folders += [p for f in folders if is_sweep_dir(f) for p in f.iterdir() if p.is_dir()]
    except OSError:
        return found
    for run_dir in folders:
        if run_dir.resolve() not in seen and run_is_live(run_dir):
            found.append(LiveTraining(run_dir, lock_holder(run_dir)))
    return found


NOTHING_TO_STOP = "No training is going: nothing to stop."


def stop_question(live: LiveTraining) -> str:
    """The confirm before stopping a run this TUI did not start."""
    pid = f"pid {live.pid}" if live.pid else "pid unknown"
    return (
        f"Run {live.name} is training in another process ({pid}): started from the command "
        "line, another workbench or a sweep.\n\nStop it? It finishes its batch, saves last.pt "
        "and can be resumed later (r)."
    )


def sharing_question(live: list[LiveTraining], starting: str) -> str | None:
    """The confirm before ``starting`` (e.g. "A new run") while runs train; None if none do."""
    if not live:
        return None
    names = ", ".join(item.name for item in live)
    verb, them = ("is", "it") if len(live) == 1 else ("are", "them")
    return (
        f"{names} {verb} training now. {starting} would share this machine with {them}: "
        "each goes slower, and they share the GPU's memory (one may run out of it).\n\n"
        "Start anyway?"
    )


class RunTail:
    """Follows one run directory; :meth:`poll` returns the log lines that are new."""

    def __init__(self, run_dir: Path, *, pid: int = 0) -> None:
        self.run_dir = Path(run_dir)
        self.state = RunState(self.run_dir, run_id=self.run_dir.name, pid=pid)
        self._offset = 0
        self._lost = False
        self.events_seen = 0
        from workbench.engine.runs import Run

        try:  # read now, so that Stop works before the first poll
            status = Run(self.run_dir).status()
        except RunFileError:
            status = None  # the first poll says what is wrong with it
        self.state.pid = pid or (status.pid if status is not None else 0)
        if status is not None and status.state in ("running", "finished", "stopped", "failed"):
            self.state.state = status.state

    def poll(self) -> list[str]:
        """Read what was appended since the last poll; update :attr:`state`."""
        from workbench.engine.runs import Run

        run = Run(self.run_dir)
        before = len(self.state.log)
        try:
            events, self._offset = run.events(self._offset)
        except (OSError, ValueError, TypeError, KeyError) as error:
            events = []
            self.state.message = f"cannot read events.jsonl: {error}"
        for event in events:
            self.events_seen += 1
            self._apply(event)
        try:
            status = run.status()
        except RunFileError as error:
            status = None
            self.state.message = f"cannot read the run's status: {error.problem}"
        self._apply_status(status)
        return self.state.log[before:]

    def _apply(self, event: Event) -> None:
        s = self.state
        stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
        if isinstance(event, RunStarted):
            s.run_id, s.device, s.classes = event.run_id, event.device, tuple(event.classes)
            s.epochs, s.params, s.config = event.epochs, event.params, dict(event.config)
            s.pid = event.pid or s.pid
            s.state, s.message = "running", ""
            s.batches = event.train_batches
            keep = sum(1 for e in s.epoch_numbers if e <= event.start_epoch)
            del s.epoch_numbers[keep:]
            for series in (*s.train.values(), *s.val.values()):
                del series[keep:]
            verb = "resumed after epoch" if event.resumed else "started, epochs done:"
            s.log.append(f"{stamp} {verb} {event.start_epoch} on {event.device}")
        elif isinstance(event, Progress):
            s.state = "running"
            s.epoch, s.epochs, s.phase = event.epoch, event.epochs, event.phase
            s.batch, s.batches = event.batch, event.batches
            s.eta_seconds = event.eta_seconds
            if event.memory_gb is not None and event.memory_total_gb:
                s.memory = f"{event.memory_gb:.1f}/{event.memory_total_gb:.0f} GiB"
            if event.phase == "train":
                s.images_per_second = event.images_per_second
                x = event.epoch - 1 + event.batch / max(event.batches, 1)
                s.batch_loss.append((x, event.loss))
        elif isinstance(event, EpochEnd):
            if event.epoch in s.epoch_numbers:  # a resumed run repeats nothing, but be safe
                return
            s.epoch, s.epochs = event.epoch, event.epochs
            s.epoch_numbers.append(event.epoch)
            for name in METRICS:
                s.train.setdefault(name, []).append(float(getattr(event.train, name)))
                s.val.setdefault(name, []).append(float(getattr(event.val, name)))
            s.best_epoch, s.best_val_accuracy = event.best_epoch, event.best_val_accuracy
            s.images_per_second = event.images_per_second
            s.log.append(
                f"{stamp} epoch {event.epoch}/{event.epochs}  train loss {event.train.loss:.3f} "
                f"acc {event.train.accuracy:.3f}  val loss {event.val.loss:.3f} "
                f"acc {event.val.accuracy:.3f}  {event.seconds:.1f}s"
                + ("  ★ best" if event.improved else "")
            )
        elif isinstance(event, CheckpointSaved):
            s.log.append(f"{stamp} checkpoint {event.name}.pt (epoch {event.epoch})")
        elif isinstance(event, RunFinished):
            s.state = "finished"
            s.log.append(
                f"{stamp} finished ({event.reason}): best val acc {event.best_val_accuracy:.3f}"
                f" at epoch {event.best_epoch}, {event.seconds:.0f}s"
            )
        elif isinstance(event, RunStopped):
            s.state = "stopped"
            part = f" and {event.batch} batches of the next" if event.batch else ""
            s.message = (
                f"stopped ({event.reason}) after {event.epochs_done} epochs{part}; r resumes"
            )
            s.log.append(f"{stamp} {s.message}")
        elif isinstance(event, RunFailed):
            s.state = "failed"
            where = f" (epoch {event.epoch}, batch {event.batch})" if event.epoch else ""
            s.message = f"failed{where}: {event.message}"
            s.log.append(f"{stamp} {s.message}")

    def _apply_status(self, status: RunStatus | None) -> None:
        s = self.state
        if status is not None:
            s.pid = status.pid or s.pid
            if status.state in ("finished", "stopped", "failed"):
                s.state = status.state
                if status.state == "failed" and not s.message:
                    s.message = f"failed: {status.message or 'see the log in .tui-logs'}"
            elif status.state == "running" and not self._lost:
                s.state = "running"
        silent = (
            status is not None
            and status.heartbeat > 0
            and time.time() - status.heartbeat > STALE_HEARTBEAT_S
        )
        watched = s.state == "running" or (s.state == "waiting" and bool(s.pid))
        if watched and (silent or not training_is_going(s)):
            if s.state == "waiting":
                s.state = "failed"
                tail = launch_log_tail(self.run_dir, 4) or "no output"
                s.message = f"the training process exited before it started: {tail}"
            else:
                self._lost = True
                s.state = "lost"
                s.message = (
                    "the training process is gone or silent (killed?); r resumes from last.pt"
                )
            s.log.append(s.message)
