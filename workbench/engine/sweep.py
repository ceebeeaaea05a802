"""Hyper-parameter sweeps (Q3 f, k): every combination of a grid, run in turn as ordinary runs.

``parse_grid(["lr=1e-3,3e-4", "loss=ce,focal", "batch-size=32,64"])`` gives a :class:`Grid`;
:func:`plan_sweep` turns it and a base :class:`~workbench.config.RunConfig` into one run
directory per combination under one sweep folder; :func:`run_sweep` trains them one after the
other with :func:`~workbench.engine.loop.fit`. A re-run of the same sweep skips finished (and
failed) runs, resumes a stopped or interrupted one from its ``last.pt`` and starts the rest, so a
sweep survives a stop. ``sweep.json`` in the folder records the grid and the base config;
:func:`read_sweep` reads a sweep back for the figures (:mod:`workbench.engine.export.sweep`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from workbench.config import OfferedField, RunConfig, offered_fields, with_values
from workbench.engine.atomic import atomic_write_text
from workbench.engine.cachedir import short_hash
from workbench.engine.events import Subscriber
from workbench.engine.prepared import PreparedData
from workbench.engine.runs import (
    CHECKPOINTS_DIR,
    MetricRow,
    Run,
    RunLock,
    config_from_document,
    is_run_dir,
    read_json_object,
)
from workbench.errors import ConfigError, RunFileError, UsageError

SWEEP_FILE = "sweep.json"


def grid_params() -> dict[str, OfferedField]:
    """The hyper-parameters a grid may vary, by grid name (the ``workbench train`` option
    without ``--``): the option table's fields marked ``sweep``."""
    return {f.spelled: f for f in offered_fields() if f.option.sweep}


def _canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-")


@dataclass(frozen=True)
class Grid:
    """Hyper-parameters and their values, in the order given (values as typed)."""

    axes: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.axes]

    def combinations(self) -> list[dict[str, str]]:
        """Every combination, the first hyper-parameter varying slowest."""
        values = [vals for _, vals in self.axes]
        return [dict(zip(self.names, combo, strict=True)) for combo in itertools.product(*values)]

    def to_text(self) -> list[str]:
        return [f"{name}={','.join(values)}" for name, values in self.axes]


class GridError(UsageError):
    """A grid the sweep refuses. ``problem`` says what is wrong in the grid's own words
    (``loss=xyz: must be one of ...``), for a form that shows it beside its fields; the message
    (what the CLI prints) puts ``--grid:`` before it. ``name`` is the hyper-parameter at fault
    (its grid name), when there is one."""

    def __init__(self, problem: str, name: str | None = None) -> None:
        super().__init__(f"--grid: {problem}")
        self.problem = problem
        self.name = name


def parse_grid(items: Sequence[str]) -> Grid:
    """``["lr=1e-3,3e-4", "loss=ce,focal"]`` (or one string of them) -> Grid.

    GridError (one line) for a malformed item, an unknown hyper-parameter, a repeated one,
    a value of the wrong type or an empty grid.
    """
    tokens = [token for item in items for token in item.split()]
    if not tokens:
        raise GridError("give at least one NAME=V1,V2 item, e.g. lr=1e-3,3e-4")
    axes: list[tuple[str, tuple[str, ...]]] = []
    for token in tokens:
        name, sep, raw = token.partition("=")
        name = _canonical(name)
        if not sep or not name:
            raise GridError(f"{token!r} is not NAME=V1,V2,...")
        params = grid_params()
        if name not in params:
            raise GridError(f"unknown hyper-parameter {name!r}; one of {', '.join(params)}", name)
        if name in dict(axes):
            raise GridError(f"{name} is given twice", name)
        values = tuple(v.strip() for v in raw.split(",") if v.strip())
        if not values:
            raise GridError(f"{name} has no values", name)
        converted = [_convert(name, value) for value in values]
        if len(set(converted)) != len(values):  # also "1e-3,0.001" or "on,true"
            raise GridError(f"{name} repeats a value ({raw})", name)
        axes.append((name, values))
    return Grid(tuple(axes))


def _convert(name: str, value: str) -> Any:
    param = grid_params()[name]
    try:
        return param.kind.parse(value)
    except ValueError:
        raise GridError(f"{name}={value!r} is not {param.kind.what}", name) from None


def apply_params(base: RunConfig, params: dict[str, str]) -> RunConfig:
    """``base`` with the given hyper-parameters set, validated (GridError names the one)."""
    fields = grid_params()
    values = {fields[name].name: _convert(name, value) for name, value in params.items()}
    try:
        return with_values(base, values).validate()
    except ConfigError as error:
        shown = " ".join(f"{k}={v}" for k, v in params.items())
        only = next(iter(params)) if len(params) == 1 else None
        # "loss=xyz: must be one of ..." when the value is at fault, else the field that is
        own = only is not None and fields[only].name == error.field
        raise GridError(f"{shown}: {error.message if own else error}", only) from None


def run_name(index: int, params: dict[str, str]) -> str:
    """``01-lr=1e-3-loss=ce``: a run folder name, ordered, readable, file-system safe."""
    parts = [f"{name}={re.sub(r'[^A-Za-z0-9_.+-]+', '_', value)}" for name, value in params.items()]
    return f"{index:02d}-" + "-".join(parts)


@dataclass(frozen=True)
class SweepEntry:
    """One combination: its parameters, full config and run directory."""

    index: int
    name: str
    params: dict[str, str]
    config: RunConfig
    path: Path


@dataclass(frozen=True)
class SweepPlan:
    root: Path
    grid: Grid
    base: RunConfig
    entries: list[SweepEntry]


LOCAL_FIELDS = {"data": ("cache_dir",), "train": ("device", "num_workers")}
"""Settings of where and how fast a run trains, not of what it computes: they may differ when a
sweep is continued."""


def base_identity(base: RunConfig) -> dict[str, Any]:
    """The base config without :data:`LOCAL_FIELDS`: what makes two sweeps the same sweep."""
    document = base.to_dict()
    for section, names in LOCAL_FIELDS.items():
        for name in names:
            document[section].pop(name, None)
    return document


def sweep_id(grid: Grid, base: RunConfig) -> str:
    """A short hash of the grid and the base config: the same command, the same sweep folder."""
    return short_hash(grid.to_text(), base_identity(base), length=10)


def default_sweep_dir(runs_root: str | Path, grid: Grid, base: RunConfig) -> Path:
    """``<runs_root>/sweep-<hash>``: re-running the same sweep command finds its folder."""
    return Path(runs_root) / f"sweep-{sweep_id(grid, base)}"


def plan_sweep(grid: Grid, base: RunConfig, root: str | Path) -> SweepPlan:
    """Every combination's config and run folder (nothing is written). Each value is checked
    alone first, so a bad one is named by itself rather than in the first combination holding
    it; then every combination (values that only clash together)."""
    root = Path(root)
    for name, values in grid.axes:
        for value in values:
            apply_params(base, {name: value})
    entries = []
    for index, params in enumerate(grid.combinations(), start=1):
        config = apply_params(base, params)
        name = run_name(index, params)
        entries.append(SweepEntry(index, name, params, config, root / name))
    return SweepPlan(root, grid, base, entries)


def _sweep_document(plan: SweepPlan) -> dict[str, Any]:
    return {
        "grid": plan.grid.to_text(),
        "base": plan.base.to_dict(),
        "runs": [{"name": e.name, "params": e.params} for e in plan.entries],
    }


def load_plan(root: str | Path) -> SweepPlan:
    """The plan recorded in ``root/sweep.json`` (to continue a sweep without its options)."""
    root = Path(root)
    path = root / SWEEP_FILE
    if not path.is_file():
        raise UsageError(f"{root}: not a sweep folder (no {SWEEP_FILE})")
    document = read_json_object(path)
    grid, base = document.get("grid"), document.get("base")
    if not (isinstance(grid, list) and all(isinstance(item, str) for item in grid)):
        raise RunFileError(path, "its grid must be a list of NAME=V1,V2 strings")
    if not isinstance(base, dict):
        raise RunFileError(path, "its base must be an object (a run config)")
    return plan_sweep(parse_grid(grid), config_from_document(base, path), root)


def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


def entry_state(path: Path, *, locked: bool = False) -> str:
    """``new`` (nothing to resume), ``resumable`` (stopped or interrupted, has last.pt),
    ``finished``, ``failed``, ``running`` (a process is training it) or ``unreadable`` (a
    damaged status.json: that run's problem, the others go on). ``locked``: this process
    holds the run's lock, so a ``running`` status is a run that was interrupted."""
    if not is_run_dir(path):
        return "new"
    try:
        status = Run(path).status()
    except RunFileError:
        return "unreadable"
    if status is not None:
        if status.state in ("finished", "failed"):
            return status.state
        if status.effective_state == "running" and not locked:
            return "running"
    return "resumable" if (path / CHECKPOINTS_DIR / "last.pt").is_file() else "new"


@dataclass(frozen=True)
class SweepOutcome:
    """What run_sweep did with one entry: ``skipped``, ``resumed`` or ``started``, and the
    state the run ended in."""

    entry: SweepEntry
    action: str
    state: str
    message: str = ""


@dataclass
class SweepResult:
    plan: SweepPlan
    outcomes: list[SweepOutcome] = field(default_factory=list)
    stopped: bool = False
    """True when a run was stopped: the rest of the sweep is left for a re-run."""


PrepareFn = Callable[[Any], PreparedData]
EntryFn = Callable[[SweepEntry, str], None]


def record_plan(plan: SweepPlan) -> None:
    """Write ``sweep.json`` for a new sweep; for an existing one, UsageError unless it is
    the same sweep (its grid and base options)."""
    plan.root.mkdir(parents=True, exist_ok=True)
    record = plan.root / SWEEP_FILE
    document = _sweep_document(plan)
    if record.exists():
        old = load_plan(plan.root)
        same_base = base_identity(old.base) == base_identity(plan.base)
        if old.grid.to_text() != document["grid"] or not same_base:
            raise UsageError(
                f"{plan.root}: holds another sweep ({' '.join(old.grid.to_text())}); "
                "pick another --sweep-dir"
            )
    else:
        atomic_write_text(record, json.dumps(document, indent=2, allow_nan=False) + "\n")


def run_sweep(
    plan: SweepPlan,
    *,
    prepare: PrepareFn | None = None,
    subscribers: Sequence[Subscriber] = (),
    stop: Any = None,
    on_entry: EntryFn | None = None,
) -> SweepResult:
    """Train every entry of ``plan`` that is not done yet, in order, in this process.

    ``prepare(data_config)`` gives the PreparedData (default :func:`prepare_data`; prepared sets
    are reused between runs with the same data config). ``subscribers`` receive every run's
    events; ``stop`` (a :class:`~workbench.engine.loop.StopFlag`) ends the current run cleanly
    and the sweep with it. ``on_entry(entry, action)`` is called before each entry with
    ``skip-finished``, ``skip-failed``, ``resume`` or ``start``.
    """
    from workbench.engine.data import prepare_data
    from workbench.engine.loop import StopFlag, fit

    stop = stop or StopFlag()
    prepare = prepare or prepare_data
    record_plan(plan)
    prepared: dict[str, PreparedData] = {}
    result = SweepResult(plan)
    for entry in plan.entries:
        # The entry's lock first (RunBusyError: another process is training it), then its
        # state: nobody can start it between the two.
        with RunLock.acquire(entry.path):
            outcome = _run_entry(entry, prepare, prepared, subscribers, stop, on_entry, fit)
        result.outcomes.append(outcome)
        if outcome.action == "skipped":
            continue
        if outcome.state == "stopped" or stop.is_set():
            result.stopped = True
            break
    return result


def _run_entry(
    entry: SweepEntry,
    prepare: PrepareFn,
    prepared: dict[str, PreparedData],
    subscribers: Sequence[Subscriber],
    stop: Any,
    on_entry: EntryFn | None,
    fit: Callable[..., Any],
) -> SweepOutcome:
    """Skip, resume or start one entry, under its lock. A damaged run is skipped with its
    problem (one line) as the message: it is that run's problem, the sweep goes on."""
    state = entry_state(entry.path, locked=True)
    if state in ("finished", "failed", "unreadable"):
        if on_entry is not None:
            on_entry(entry, f"skip-{state}")
        message = ""
        if state == "unreadable":
            try:
                Run(entry.path).status()
            except RunFileError as error:
                message = str(error)
        return SweepOutcome(entry, "skipped", state, message)
    resume = state == "resumable"
    if on_entry is not None:
        on_entry(entry, "resume" if resume else "start")
    key = json.dumps(dataclasses.asdict(entry.config.data), sort_keys=True)
    if key not in prepared:
        prepared[key] = prepare(entry.config.data)
    try:
        fitted = fit(
            entry.config,
            prepared[key],
            entry.path,
            subscribers=subscribers,
            resume=resume,
            stop=stop,
        )
    except RunFileError as error:  # a damaged file found when resuming: nothing was changed
        if on_entry is not None:
            on_entry(entry, "skip-unreadable")
        return SweepOutcome(entry, "skipped", "unreadable", str(error))
    action = "resumed" if resume else "started"
    return SweepOutcome(entry, action, fitted.state, fitted.message)


# ------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class SweepRow:
    """One run of a sweep, read back from its directory."""

    name: str
    params: dict[str, str]
    path: Path
    state: str
    epochs_done: int
    best_epoch: int
    best_val_accuracy: float | None
    best_val_loss: float | None
    val: list[MetricRow]

    @property
    def run(self) -> Run | None:
        return Run(self.path) if is_run_dir(self.path) else None


@dataclass(frozen=True)
class SweepSummary:
    root: Path
    grid: Grid
    rows: list[SweepRow]

    @property
    def varied(self) -> list[str]:
        """Hyper-parameters with more than one value (each gets a sweep_<name>.png)."""
        return [name for name, values in self.grid.axes if len(values) > 1]

    @property
    def best(self) -> SweepRow | None:
        """The run with the highest best validation accuracy (ties: lower loss)."""
        done = [row for row in self.rows if row.best_val_accuracy is not None]
        if not done:
            return None
        return max(
            done,
            key=lambda r: (r.best_val_accuracy or 0.0, -(r.best_val_loss or 0.0)),
        )


def read_sweep(root: str | Path) -> SweepSummary:
    """Every run of the sweep at ``root`` with its state and validation history."""
    plan = load_plan(root)
    rows = []
    for entry in plan.entries:
        state = entry_state(entry.path)
        val: list[MetricRow] = []
        if is_run_dir(entry.path):
            try:
                val = Run(entry.path).metrics("val")
            except RunFileError:
                state = "unreadable"  # that run's problem: its row says so, the others show
        best = max(val, key=lambda r: (r.accuracy, -r.loss, -r.epoch)) if val else None
        rows.append(
            SweepRow(
                name=entry.name,
                params=entry.params,
                path=entry.path,
                state=state if state != "resumable" else "stopped",
                epochs_done=val[-1].epoch if val else 0,
                best_epoch=best.epoch if best else 0,
                best_val_accuracy=best.accuracy if best else None,
                best_val_loss=best.loss if best else None,
                val=val,
            )
        )
    return SweepSummary(plan.root, plan.grid, rows)


class ExportTarget(NamedTuple):
    """What an export of a path is made from: a run directory, and the sweep folder whose
    figures come with it (None: the run is not part of a sweep)."""

    run: Path
    sweep: Path | None


def export_target(path: str | Path) -> ExportTarget:
    """The one rule of ``workbench --export --run PATH`` and of the Export screen's picker: a
    sweep folder stands for its best run (:attr:`SweepSummary.best`) with its figures; a run
    inside a sweep brings that sweep's figures; any other path is a run on its own (opened
    and checked by the caller). UsageError when no run of the sweep has finished an epoch."""
    path = Path(path).expanduser()
    if is_sweep_dir(path):
        best = read_sweep(path).best
        if best is None or best.run is None:
            raise UsageError(f"{path}: no run of this sweep has finished an epoch yet")
        return ExportTarget(best.path, path)
    return ExportTarget(path, path.parent if is_sweep_dir(path.parent) else None)
