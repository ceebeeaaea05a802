"""Which runs qualify: one query over a runs folder, for every picker and policy.

The Runs table, the Evaluate and Export pickers, ``workbench --export``'s and ``workbench
notebook``'s choice of run, the notebook API and the loss comparison all ask the same
questions of a runs folder (sweeps included or not, state, checkpoint, data, split). They ask
them here, so they agree; :func:`newest_finished_run` is the one "newest finished run" policy.
Reading needs no torch: the TUI lists runs before the engine has loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.engine.runs import Run, list_runs
from workbench.errors import RunFileError, UsageError

UNREADABLE = "unreadable"
"""The state of a run whose files the reader refuses (the problem says which and why)."""


class _AnyData:
    """The data filter that lets every data set through (``None`` is the demo set)."""

    def __repr__(self) -> str:
        return "ANY_DATA"


ANY_DATA = _AnyData()


@dataclass(frozen=True)
class ListedRun:
    """A run as a query found it: its display name, state and checkpoints, or its problem."""

    run: Run
    name: str
    """The run id, or ``sweep-<id>/<run id>`` for a run inside a sweep folder."""
    state: str
    """running, finished, stopped, failed, interrupted, starting, or :data:`UNREADABLE`."""
    has_best: bool
    has_last: bool
    problem: RunFileError | None = None

    @property
    def has_checkpoint(self) -> bool:
        return self.has_best or self.has_last

    @property
    def label(self) -> str:
        """``name (state)``: what a picker shows."""
        return f"{self.name} ({self.state})"


@dataclass(frozen=True)
class ListedSweep:
    """A sweep folder as a picker shows it: where it is and how many runs its grid makes."""

    path: Path
    runs: int

    @property
    def label(self) -> str:
        """``sweep-<id> (sweep, N runs)``: what a picker shows."""
        return f"{self.path.name} (sweep, {self.runs} runs)"


def find_sweeps(root: str | Path) -> list[ListedSweep]:
    """The sweep folders directly under ``root``, newest first; one whose ``sweep.json`` is
    damaged is left out (the Runs table shows its runs' own problems)."""
    from workbench.engine.sweep import load_plan

    found = []
    for folder in _sweep_folders(Path(root)):
        try:
            found.append(
                (folder.stat().st_mtime, ListedSweep(folder, len(load_plan(folder).entries)))
            )
        except (UsageError, OSError):
            continue
    return [listed for _, listed in sorted(found, key=lambda item: item[0], reverse=True)]


def _sweep_folders(root: Path) -> list[Path]:
    from workbench.engine.sweep import is_sweep_dir

    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and is_sweep_dir(p))


def _listed(run: Run, name: str) -> ListedRun:
    best, last = run.checkpoint_path("best").is_file(), run.checkpoint_path("last").is_file()
    try:
        status = run.status()
        run.config_document()
    except RunFileError as error:
        return ListedRun(run, name, UNREADABLE, best, last, error)
    state = status.effective_state if status is not None else "starting"
    return ListedRun(run, name, state, best, last)


def _mtime(run: Run) -> float:
    try:
        return run.path.joinpath("config.json").stat().st_mtime
    except OSError:
        return 0.0


def _matches(entry: ListedRun, data: str | _AnyData | None, fingerprint: str | None) -> bool:
    if isinstance(data, _AnyData) and fingerprint is None:
        return True
    try:
        document = entry.run.config_document()
        trained_on = entry.run.config().data.data
    except RunFileError:
        return False
    if not isinstance(data, _AnyData) and trained_on != data:
        return False
    return fingerprint is None or document.get("split_fingerprint") == fingerprint


def find_runs(
    root: str | Path,
    *,
    sweeps: bool = True,
    states: tuple[str, ...] | None = None,
    checkpoint: str | None = None,
    data: str | _AnyData | None = ANY_DATA,
    fingerprint: str | None = None,
) -> list[ListedRun]:
    """The runs under ``root`` (and inside its sweep folders, with ``sweeps``), newest first.

    Filters: ``states`` (effective states; :data:`UNREADABLE` lists damaged runs too, which
    every other filter leaves out), ``checkpoint`` (``"best"``, or ``"any"`` for best or last),
    ``data`` (the data path the run was trained on; None: the demo set) and ``fingerprint``
    (the split it was trained on).
    """
    root = Path(root)
    found = [(run, run.id) for run in list_runs(root)]
    if sweeps:
        for folder in _sweep_folders(root):
            found += [(run, f"{folder.name}/{run.id}") for run in list_runs(folder)]
    found.sort(key=lambda item: _mtime(item[0]), reverse=True)
    chosen = []
    for run, name in found:
        entry = _listed(run, name)
        if states is not None and entry.state not in states:
            continue
        if entry.state == UNREADABLE and (checkpoint or fingerprint or data is not ANY_DATA):
            continue
        if checkpoint == "best" and not entry.has_best:
            continue
        if checkpoint == "any" and not entry.has_checkpoint:
            continue
        if _matches(entry, data, fingerprint):
            chosen.append(entry)
    return chosen


def newest_finished_run(
    root: str | Path,
    data: str | _AnyData | None,
    *,
    check: Callable[[Run], None] | None = None,
    on_skip: Callable[[RunFileError], None] | None = None,
) -> Run | None:
    """The policy of ``workbench --export``, ``workbench notebook`` and the Export screen: the
    newest finished run directly under ``root`` with a ``best.pt``, trained on ``data``.

    ``check`` may refuse a candidate with a RunFileError (a damaged file it would read);
    ``on_skip`` hears about each refused one, and the next newest is tried.
    """
    for entry in find_runs(root, sweeps=False):
        if entry.problem is not None:
            if on_skip is not None:
                on_skip(entry.problem)
            continue
        if entry.state != "finished" or not entry.has_best or not _matches(entry, data, None):
            continue
        try:
            if check is not None:
                check(entry.run)
        except RunFileError as error:
            if on_skip is not None:
                on_skip(error)
            continue
        return entry.run
    return None
