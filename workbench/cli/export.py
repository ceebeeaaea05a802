"""``workbench --export [--run RUN] [--out DIR] [--data ...]``: every artefact, headless.

Writes every artefact of :data:`workbench.engine.export.registry.ARTEFACTS` that applies into
``DIR`` (default ``exports/<run-id>/``) and prints the files written. ``--run`` may be a run
directory or a sweep folder (then the sweep's figures are added and its best run is the run).
Without ``--run``, the newest finished run for the data under ``runs/`` is used; with none, a
quick one is trained first (:data:`QUICK_EPOCHS` epochs at :data:`QUICK_SIZE` px), so on a fresh
machine this one command produces a complete set.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cli.common import err_console, options_named, out_console, progress_bar
from workbench.errors import RunFileError, UsageError

if TYPE_CHECKING:
    from workbench.config import RunConfig
    from workbench.engine.runs import Run

RUNS_ROOT = Path("runs")
EXPORTS_ROOT = Path("exports")
QUICK_EPOCHS = 6
QUICK_SIZE = 64


def check_writable(out: Path) -> None:
    """UsageError naming ``out`` if files cannot be written there."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".write-test-", dir=out)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise UsageError(f"--out {out}: cannot write there ({error.strerror or error})") from None


def data_path(data: str | None) -> str | None:
    return str(Path(data).expanduser().resolve()) if data is not None else None


def finished_run_for(data: str | None, root: Path = RUNS_ROOT) -> Run | None:
    """The newest finished run under ``root`` trained on ``data`` (None: the demo set), whose
    files the export reads are sound; a damaged newer one is passed over with a line."""
    from workbench.engine.run_query import newest_finished_run

    return newest_finished_run(root, data, check=check_run, on_skip=say_passed_over)


def say_passed_over(error: RunFileError) -> None:
    """One dim line for a newer run that a default choice passed over, and why."""
    err_console.print(f"[dim]passed over: {error}[/]", highlight=False, soft_wrap=True)


def check_run(run: Run) -> None:
    """RunFileError unless every file the export reads is sound (config.json, status.json,
    the metric files, the checkpoint it evaluates): found before anything is written."""
    from workbench.engine.evaluate import load_model

    run.config()
    run.status()
    for split in ("train", "val"):
        run.metrics(split)
    load_model(run.path)


def quick_config(data: str | None, cache_dir: str | None) -> RunConfig:
    """The quick default recipe: the default CNN, 64 px, a few epochs (demo set: ~2 min, 2 CPUs)."""
    from workbench.config import DataConfig, RunConfig, TrainConfig

    return RunConfig(
        data=DataConfig(data=data, image_size=QUICK_SIZE, cache_dir=cache_dir),
        train=TrainConfig(epochs=QUICK_EPOCHS, warmup_epochs=1),
    ).validate()


def train_quick(data: str | None, cache_dir: str | None, root: Path = RUNS_ROOT) -> Run:
    """Train the quick default into a new run under ``root``, with the live training display."""
    from workbench.cli.train import TrainDisplay
    from workbench.engine.data import prepare_data
    from workbench.engine.loop import StopFlag, fit, handle_signals
    from workbench.engine.runs import Run, create_run_dir, new_run_id

    config = quick_config(data, cache_dir)
    run_dir = create_run_dir(root, new_run_id(config.data))
    err_console.print(
        f"no finished run for {data or 'the demo set'} under {root}/: training a quick one first "
        f"({QUICK_EPOCHS} epochs at {QUICK_SIZE} px; `workbench train` runs the full recipe)",
        highlight=False,
    )
    stop = StopFlag()
    with handle_signals(stop):
        with progress_bar() as progress:
            prepared = prepare_data(config.data, progress)
        with TrainDisplay() as display:
            result = fit(config, prepared, run_dir, subscribers=[display], stop=stop)
    if result.state != "finished":
        raise UsageError(f"{run_dir}: the quick training run {result.state}: {result.message}")
    return Run(run_dir)


def resolve_target(
    args: argparse.Namespace,
) -> tuple[Run, Path | None]:
    """The run to export and the sweep folder whose figures come with it (``--run`` names the
    sweep, or a run inside it: :func:`workbench.engine.sweep.export_target`)."""
    from workbench.engine.runs import Run, open_run
    from workbench.engine.sweep import export_target

    if args.run is None:
        data = data_path(args.data)
        found = finished_run_for(data)
        return (found if found is not None else train_quick(data, args.cache_dir)), None
    try:
        path, sweep = export_target(args.run)
    except UsageError as error:
        raise UsageError(f"--run {error}") from None
    if sweep is not None and sweep == Path(args.run).expanduser():
        return Run(path), sweep  # the sweep's best run, as read_sweep found it
    run = open_run(path)
    if not run.checkpoint_path("best").is_file() and not run.checkpoint_path("last").is_file():
        raise UsageError(f"--run {path}: the run has no checkpoint yet")
    check_run(run)
    return run, sweep


def run_export(args: argparse.Namespace) -> int:
    # torch, matplotlib and the engine cost 2-3 s to import: only the export pays for them.
    from workbench.config import check_data_path
    from workbench.engine.export.notebook_parts import recipe_warnings
    from workbench.engine.export.registry import Sources, export_all

    with options_named():  # an empty --data would resolve to the current folder
        check_data_path(args.data)
    started = time.monotonic()
    run, sweep = resolve_target(args)
    # exports/<sweep> for a sweep, exports/<run-id> for a run (inside a sweep or not)
    named = Path(args.run).expanduser().name if args.run and sweep is not None else run.id
    out = Path(args.out) if args.out else EXPORTS_ROOT / named
    check_writable(out)
    problems = recipe_warnings(run)
    if problems:
        err_console.print(
            f"[yellow]note:[/] run {run.id} is not the assignment's full recipe: "
            f"{'; '.join(problems)} (the notebook says so at its top)",
            highlight=False,
            soft_wrap=True,
        )
    with progress_bar() as progress:
        sources = Sources.for_run(
            run,
            data=data_path(args.data),
            cache_dir=args.cache_dir,
            sweep=sweep,
            progress=progress,
        )

        def step(entry: object, done: int, total: int) -> None:
            progress("writing artefacts", done, total)

        result = export_all(sources, out, on_artefact=step)
    seconds = time.monotonic() - started
    out_console.print(
        f"[bold]{len(result.written)} files[/] written to [bold]{out}[/] "
        f"from run {run.id} in {seconds:.1f} s:",
        highlight=False,
    )
    for path in result.written:
        out_console.print(f"  {path}", highlight=False)
    for name, reason in result.skipped:
        err_console.print(f"[dim]skipped {name}: {reason}[/]", highlight=False)
    evaluation = sources.evaluated
    if evaluation is not None:
        report = evaluation.report
        out_console.print(
            f"test accuracy {report.accuracy:.4f} on {report.count} images "
            f"(checkpoint epoch {report.checkpoint_epoch})",
            highlight=False,
        )
    return 0
