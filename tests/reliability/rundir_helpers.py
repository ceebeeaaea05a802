"""Run directories for the reliability suite: one real, resumable run made once, copies of it,
and the damage a user's disk can do to each of its files.

The run is trained with the real ``fit`` on the session's tiny data (``tiny_run``'s images and
warm decode cache) for 1 of 2 epochs and stopped, so every reader has something to do:
``eval`` and ``--export`` evaluate its best.pt, ``train --resume`` continues it, the Runs table
lists it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.tiny_run import tiny_run, tiny_run_config
from workbench.engine.data import prepare_data
from workbench.engine.events import EpochEnd, Event
from workbench.engine.loop import StopFlag, fit

EPOCHS = 2
"""The base run is configured for 2 epochs and stopped after the first."""


@dataclass(frozen=True)
class BaseRun:
    run_dir: Path
    data_dir: Path
    cache_dir: Path


@functools.cache
def stopped_run() -> BaseRun:
    """A real run stopped after epoch 1 of 2 (made once per session, about 1 s)."""
    tiny = tiny_run()
    config = tiny_run_config(tiny.data_dir, tiny.cache_dir, epochs=EPOCHS)
    run_dir = Path(tempfile.mkdtemp(prefix="workbench-reliability-")) / "base"
    stop = StopFlag()

    def stop_after_first_epoch(event: Event) -> None:
        if isinstance(event, EpochEnd):
            stop.request("test")

    result = fit(
        config, prepare_data(config.data), run_dir, subscribers=[stop_after_first_epoch], stop=stop
    )
    assert result.state == "stopped" and result.epochs_done == 1, result.message
    return BaseRun(run_dir, tiny.data_dir, tiny.cache_dir)


def copy_run(destination: Path) -> Path:
    """A fresh copy of the stopped run at ``destination`` (its parent is created)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(stopped_run().run_dir, destination)
    return destination


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run and its bytes, but the lock file (taking the lock may create it)."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


# ------------------------------------------------------------------------------- damage

JSON_FILES = ("config.json", "status.json")
METRIC_FILES = ("metrics/train.txt", "metrics/val.txt")
EVENTS = "events.jsonl"
CHECKPOINTS = ("checkpoints/last.pt", "checkpoints/best.pt")
FILES = (*JSON_FILES, *METRIC_FILES, EVENTS, *CHECKPOINTS)
DAMAGES = ("truncated", "empty", "wrong_json_type", "wrong_value_types", "garbage_lines")


def _cut(data: bytes) -> bytes:
    """The first half, cut inside a line (as a copy or a disk that stopped half way leaves)."""
    cut = len(data) // 2
    while cut < len(data) and data[cut - 1 : cut] == b"\n":
        cut += 1
    return data[:cut]


def _wrong_json_value(relative: str, data: bytes) -> bytes:
    if relative == "config.json":
        document = json.loads(data)
        document["train"]["lr"] = "fast"
        return json.dumps(document).encode()
    document = json.loads(data)  # status.json
    document["epoch"] = "one"
    return json.dumps(document).encode()


def _wrong_metric_value(data: bytes) -> bytes:
    header, first, *rest = data.decode().splitlines()
    values = first.split("\t")
    values[1] = "low"
    return "\n".join([header, "\t".join(values), *rest]).encode() + b"\n"


def _wrong_event_value(data: bytes) -> bytes:
    first, *rest = data.decode().splitlines()
    event = json.loads(first)
    event["epochs"] = "two"
    return "\n".join([json.dumps(event), *rest]).encode() + b"\n"


def _checkpoint(path: Path, change: Callable[[dict[str, object]], object]) -> bytes:
    state = torch.load(path, weights_only=True)
    replaced = change(state)
    target = path.with_suffix(".tmp")
    torch.save(state if replaced is None else replaced, target)
    data = target.read_bytes()
    target.unlink()
    return data


def _set_epoch_text(state: dict[str, object]) -> None:
    state["epoch"] = "two"


def damaged_bytes(path: Path, relative: str, damage: str) -> bytes | None:
    """What ``damage`` makes of the file at ``path`` (``relative`` to its run); None when the
    damage does not apply to that kind of file (a JSON type in a tab-separated table)."""
    data = path.read_bytes()
    if damage == "truncated":
        return _cut(data)
    if damage == "empty":
        return b""
    if damage == "garbage_lines":
        if relative in CHECKPOINTS:
            return b"garbage line\n" * 20
        return data + "garbage line ✗\n".encode()
    if damage == "wrong_json_type":
        if relative in JSON_FILES:
            return b"[]\n"
        if relative == EVENTS:
            return data + b"[]\n"
        if relative in CHECKPOINTS:
            return _checkpoint(path, lambda state: [state["model"]])
        return None
    assert damage == "wrong_value_types"
    if relative in JSON_FILES:
        return _wrong_json_value(relative, data)
    if relative in METRIC_FILES:
        return _wrong_metric_value(data)
    if relative == EVENTS:
        return _wrong_event_value(data)
    return _checkpoint(path, _set_epoch_text)


def damage(run_dir: Path, relative: str, kind: str) -> Path:
    """Damage one file of ``run_dir`` in place; return its path."""
    path = run_dir / relative
    data = damaged_bytes(path, relative, kind)
    assert data is not None, (relative, kind)
    path.write_bytes(data)
    return path


CASES = [
    pytest.param(relative, kind, id=f"{relative}-{kind}")
    for relative in FILES
    for kind in DAMAGES
    if not (relative in METRIC_FILES and kind == "wrong_json_type")
]
"""Every (file, damage) that applies: 7 files x 5 damages, less the JSON type of the two
tab-separated metric tables."""


def cases_for(files: tuple[str, ...]) -> list[object]:
    """The CASES whose file is one of ``files`` (what a reader reads)."""
    return [case for case in CASES if case.values[0] in files]  # type: ignore[attr-defined]


def one_error_line(stderr: str) -> str:
    """The single line a refused command prints; fails on more (a traceback) or none."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "weights_only" not in stderr, stderr
    return lines[0]


# ------------------------------------------------------------------------- other processes

REPO = Path(__file__).resolve().parents[2]
LOCK_HOLDER = (
    "import sys, time\n"
    "from workbench.engine.runs import RunLock\n"
    "RunLock.acquire(sys.argv[1])\n"
    "print('locked', flush=True)\n"
    "time.sleep(600)\n"
)


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}


@contextmanager
def held_by_another_process(run_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """A second process that holds ``run_dir``'s lock, as a training process does, until the
    block ends (then it is killed). Yields once it holds the lock: it says so on stdout."""
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(run_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=60)


def write_large_image_folder(folder: Path, per_class: int = 30) -> Path:
    """3 classes of 1000x750 PNGs (one noisy picture per class, copied): decoding them into a
    cold cache takes a second or more, the window in which two writers both found the run
    directory empty before the lock (with the tiny images it is 30 ms, shorter than the two
    processes' start-up skew)."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(("cats", "dogs", "panda")):
        (folder / name).mkdir(parents=True)
        pixels = rng.integers(0, 90, (750, 1000, 3), dtype=np.int64)
        pixels[..., label] += 150
        first = folder / name / f"{name}_0000.png"
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB").save(first)
        for index in range(1, per_class):
            shutil.copyfile(first, folder / name / f"{name}_{index:04d}.png")
    return folder
