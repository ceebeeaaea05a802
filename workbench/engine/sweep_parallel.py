"""A sweep that trains up to K runs at once, each in a process of its own.

:func:`run_sweep_parallel` starts each entry's run as a child process (the command line is
the caller's: ``workbench train --run-dir RUN --config RUN/config.json``, or ``--resume``), in
a session of its own so that a terminal's Ctrl-C reaches the sweep alone, and pins it to a
slot: a GPU of ``devices`` (``CUDA_VISIBLE_DEVICES``), or on the CPU its share of the cores
(``OMP_NUM_THREADS``). Each child takes its run's lock and writes its run directory as any
run does, so finished runs are skipped and stopped ones resumed on a re-run, as in
:func:`~workbench.engine.sweep.run_sweep`. A stop is passed on to every child once; each ends
after its batch with ``last.pt``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from workbench.engine.atomic import atomic_write_text
from workbench.engine.device import default_cpu_threads
from workbench.engine.runs import CONFIG, Run
from workbench.engine.sweep import (
    EntryFn,
    SweepEntry,
    SweepOutcome,
    SweepPlan,
    SweepResult,
    entry_state,
    record_plan,
)
from workbench.errors import RunFileError

LOGS_DIR = ".logs"
"""Where each child's output goes, inside the sweep folder: ``.logs/<run name>.log``."""
POLL_SECONDS = 0.2
CommandFn = Callable[[SweepEntry, bool], list[str]]
"""(entry, resume) -> the command line that trains it."""


def slot_environment(slot: int, parallel: int, devices: Sequence[str]) -> dict[str, str]:
    """What pins a child to slot ``slot`` of ``parallel``: one of ``devices`` (round robin),
    or without devices its share of this machine's cores."""
    if devices:
        return {"CUDA_VISIBLE_DEVICES": devices[slot % len(devices)]}
    return {"OMP_NUM_THREADS": str(max(1, default_cpu_threads() // parallel))}


@dataclass
class _Child:
    entry: SweepEntry
    process: subprocess.Popen[bytes]
    action: str
    log: IO[bytes]


def run_sweep_parallel(
    plan: SweepPlan,
    *,
    parallel: int,
    command: CommandFn,
    devices: Sequence[str] = (),
    stop: Any = None,
    on_entry: EntryFn | None = None,
) -> SweepResult:
    """Train every entry of ``plan`` not done yet, up to ``parallel`` at once (see the module
    docstring). ``stop`` (a StopFlag) stops every child after its batch and starts no more."""
    from workbench.engine.loop import StopFlag

    stop = stop or StopFlag()
    record_plan(plan)
    (plan.root / LOGS_DIR).mkdir(exist_ok=True)
    result = SweepResult(plan)
    pending, children = list(plan.entries), dict[int, _Child]()
    forwarded = False
    try:
        while children or (pending and not stop.is_set()):
            while pending and len(children) < parallel and not stop.is_set():
                slot = min(set(range(parallel)) - set(children))
                child = _start(plan, pending.pop(0), slot, parallel, devices, command, on_entry)
                if isinstance(child, SweepOutcome):
                    result.outcomes.append(child)
                else:
                    children[slot] = child
            if stop.is_set() and not forwarded:
                _signal_all(children.values())
                forwarded = True
            for slot in [s for s, c in children.items() if c.process.poll() is not None]:
                result.outcomes.append(_ended(children.pop(slot)))
            time.sleep(POLL_SECONDS if children else 0)
    except KeyboardInterrupt:  # a second signal: the children get theirs again, and abort
        _signal_all(children.values())
        raise
    result.stopped = stop.is_set() or any(o.state == "stopped" for o in result.outcomes)
    return result


def _start(
    plan: SweepPlan,
    entry: SweepEntry,
    slot: int,
    parallel: int,
    devices: Sequence[str],
    command: CommandFn,
    on_entry: EntryFn | None,
) -> _Child | SweepOutcome:
    """Start ``entry``'s run in ``slot``, or say why it is skipped."""
    state = entry_state(entry.path)
    if state in ("finished", "failed", "unreadable", "running"):
        if on_entry is not None:
            on_entry(entry, f"skip-{state}")
        return SweepOutcome(entry, "skipped", state)
    resume = state == "resumable"
    if not resume:  # the launch config that `train --config` reads, as the TUI writes it
        entry.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(entry.path / CONFIG, entry.config.to_json() + "\n")
    if on_entry is not None:
        on_entry(entry, "resume" if resume else "start")
    log = open(plan.root / LOGS_DIR / f"{entry.name}.log", "ab")  # noqa: SIM115 - closed in _ended
    process = subprocess.Popen(
        command(entry, resume),
        env={**os.environ, **slot_environment(slot, parallel, devices)},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return _Child(entry, process, "resumed" if resume else "started", log)


def _signal_all(children: Any) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGINT)


def _ended(child: _Child) -> SweepOutcome:
    """How a child's run ended, from its run directory (its exit code when it wrote none)."""
    child.log.close()
    code = child.process.returncode
    try:
        status = Run(child.entry.path).status()
    except (RunFileError, OSError) as error:
        return SweepOutcome(child.entry, child.action, "unreadable", str(error))
    state = status.state if status is not None else "failed"
    log = Path(child.log.name)
    message = "" if code == 0 else f"exit code {code}; its output: {log}"
    return SweepOutcome(child.entry, child.action, state, message)
