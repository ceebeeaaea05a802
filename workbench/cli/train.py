"""``workbench train``: train the CNN into a run directory, with a live display on stderr.

Exit codes: 0 finished (all epochs, or early stopping); 2 bad options or data (one line);
1 internal failure or a non-finite loss (status ``failed``, message naming epoch and batch);
130 stopped by SIGINT/SIGTERM/SIGHUP (the current batch finishes, ``last.pt`` is written,
status ``stopped``; continue with ``workbench train --run-dir DIR --resume``).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.common import (
    HelpFormatter,
    check_folder_option,
    emit_json,
    err_console,
    options_named,
    out_console,
    progress_bar,
)
from workbench.cli.options import add_config_options, given_values, resumed_options
from workbench.config import RunConfig, check_data_path, offered_fields, with_values
from workbench.engine.timefmt import duration_text
from workbench.errors import EXIT_STOPPED, RunBusyError, UsageError

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress

    from workbench.engine.events import Event
    from workbench.engine.loop import FitResult
    from workbench.engine.runs import RunLock

HELP = "train the CNN into a run directory (live progress; --resume continues a run)"
DESCRIPTION = """\
Train the from-scratch CNN on the train split, validate on the val split every epoch
(eval mode, no gradients), and record everything in a run directory: config.json,
split.csv, metrics/train.txt and metrics/val.txt, events.jsonl, status.json and
checkpoints/last.pt + best.pt (best validation accuracy).

Ctrl-C (or SIGTERM/SIGHUP) finishes the current batch, writes last.pt and stops
(exit code 130); `workbench train --run-dir DIR --resume` continues exactly where it
stopped, with the run's own config.json. A second Ctrl-C aborts at once.

--nproc-per-node N trains on N processes (DistributedDataParallel under torchrun: NCCL with
one GPU each on CUDA, gloo on the CPU, where each gets 1/N of the cores); --nnodes,
--node-rank and --rdzv-endpoint spread them over machines. --batch-size is the global
batch: each process trains on its N-th of every batch and the gradients are averaged, so
--lr means the same for any N. On CUDA BatchNorm becomes SyncBatchNorm; on the CPU torch
cannot sync it, and each process normalises its own share (running statistics: process
0's). Process 0 alone writes the run; a stop reaches every process, and a resumed run
keeps its number of processes.
"""

EXIT_FAILED = 1


def add_run_options(
    parser: argparse.ArgumentParser, *, resumable: bool = False, launch: bool = False
) -> None:
    """Every option that sets a RunConfig field (data, model, training), derived from the
    config's option table; shared with sweep.

    ``resumable``: the help says which options a resumed run takes from its own config.
    ``launch``: with the options of how many processes train the run, and where they meet.
    """
    names = [f.name for f in offered_fields() if launch or not f.option.launch]
    add_config_options(parser, names, resumable=resumable)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "train", help=HELP, description=DESCRIPTION, formatter_class=HelpFormatter
    )
    add_run_options(parser, resumable=True, launch=True)
    runs = parser.add_argument_group("run directory")
    runs.add_argument(
        "--run-dir",
        metavar="DIR",
        default=None,
        help="the run directory (default: a new runs/<date>-<time>-<data>-s<size>)",
    )
    runs.add_argument(
        "--runs-root", metavar="DIR", default="runs", help="where automatic run directories go"
    )
    runs.add_argument(
        "--resume",
        action="store_true",
        help="continue the stopped run in --run-dir with its own config "
        f"({', '.join(resumed_options())} still apply)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="start from this config.json (a run's own, say); options given with it override "
        "its values",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as one JSON document on stdout"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig the options describe: the options given, over ``--config FILE``'s values
    when given, else over the defaults. UsageError naming the option (or the file) on failure."""
    values = given_values(args)
    if values.get("data") is not None:
        values["data"] = str(Path(values["data"]).expanduser().resolve())
    base = read_config_file(args.config) if getattr(args, "config", None) else None
    with options_named():
        return with_values(base, values).validate()


def read_config_file(path: str) -> RunConfig:
    """The RunConfig in a config.json, read and checked as a run directory's is (every
    section and field, types included); UsageError naming the file and the problem."""
    from workbench.engine.runs import config_from_document, read_json_object
    from workbench.errors import RunFileError

    try:
        return config_from_document(read_json_object(Path(path)), Path(path))
    except RunFileError as error:
        raise UsageError(f"--config {path}: {error.problem}") from None


def _validated(config: RunConfig) -> RunConfig:
    with options_named():
        return config.validate()


def _resume_config(args: argparse.Namespace, run_dir: Path) -> RunConfig:
    """The run's own config with the local options applied (under the run's lock: no one
    else trains it, so a ``running`` status is a run that was interrupted)."""
    from workbench.engine.runs import open_run

    run = open_run(run_dir)
    status = run.status()
    if status is not None and status.state == "finished":
        raise UsageError(f"{run_dir}: this run has finished; nothing to resume")
    local = given_values(args, (f.name for f in offered_fields() if f.option.resumed))
    if local.get("data") is not None:
        local["data"] = str(Path(local["data"]).expanduser().resolve())
    own = run.config()
    config = _validated(with_values(own, local))
    if config.train.world_size != own.train.world_size:
        raise UsageError(
            f"{run_dir}: this run trains on {own.train.world_size} process(es) "
            f"(--nproc-per-node {own.train.nproc_per_node} x --nnodes {own.train.nnodes}); "
            f"a resumed run keeps its world size, not {config.train.world_size}"
        )
    return config


def _claim_new(run_dir: Path, config_file: str | None) -> RunLock:
    """Lock an empty (or new) ``--run-dir``; refuse one that holds anything but its lock (and
    the config.json that ``--config`` names: the TUI writes a run's config there to launch it),
    saying so when another process is training into it."""
    from workbench.engine.runs import CONFIG, LOCK, RunLock, lock_holder, run_is_live

    allowed = {LOCK}
    if config_file is not None and Path(config_file).resolve() == (run_dir / CONFIG).resolve():
        allowed.add(CONFIG)

    def refuse_if_used() -> None:
        if run_dir.is_dir() and any(p.name not in allowed for p in run_dir.iterdir()):
            if run_is_live(run_dir):
                raise RunBusyError(run_dir, lock_holder(run_dir))
            raise UsageError(
                f"--run-dir {run_dir}: exists and is not empty; "
                "pick a new one or add --resume to continue it"
            )

    refuse_if_used()  # before the lock: no lock file is put into someone else's folder
    lock = RunLock.acquire(run_dir)
    try:
        refuse_if_used()  # again under it: a writer may have come and gone in between
    except UsageError:
        lock.release()
        raise
    return lock


def _claim(args: argparse.Namespace) -> tuple[RunLock, Path, RunConfig]:
    """The run's lock, directory and config. The lock is taken before anything is written to
    the run and held until the process ends: a second writer is refused here, in one line,
    before it prepares any data."""
    from workbench.engine.runs import RunLock, create_run_dir, new_run_id, open_run

    if args.resume:
        if args.run_dir is None:
            raise UsageError("--resume needs --run-dir DIR: the run to continue")
        if args.config is not None:
            raise UsageError("--config: a resumed run keeps its own config.json; leave it out")
        run_dir = Path(args.run_dir)
        open_run(run_dir)  # not a run: refused before a lock file is put into the folder
        lock = RunLock.acquire(run_dir)
        try:
            return lock, run_dir, _resume_config(args, run_dir)
        except UsageError:
            lock.release()
            raise
    config = config_from_args(args)
    if args.run_dir is not None:
        run_dir = Path(args.run_dir)
        return _claim_new(run_dir, args.config), run_dir, config
    run_dir = create_run_dir(args.runs_root, new_run_id(config.data))
    return RunLock.acquire(run_dir), run_dir, config


def run(args: argparse.Namespace) -> int:
    from workbench.cli.tuning import prepare_training_process
    from workbench.engine.distributed import launched_by_torchrun

    check_folder_option("--run-dir", args.run_dir)
    if args.run_dir is None and not args.resume:  # the only case that creates a folder there
        check_folder_option("--runs-root", args.runs_root)
    with options_named():
        check_data_path(args.data)
    prepare_training_process()
    if launched_by_torchrun():
        from workbench.cli.train_distributed import run_rank

        return run_rank(args)
    if (args.node_rank or 0) > 0:  # another machine's processes: machine 0 holds the run
        from workbench.cli.train_distributed import launch

        return launch(config_from_args(args), args, None)
    lock, run_dir, config = _claim(args)
    if config.train.world_size > 1:
        from workbench.cli.train_distributed import launch

        with lock:  # held for the run's whole life: its rank 0 writes under it
            return launch(config, args, run_dir.resolve())
    # torch and the engine cost about 1-2 s to import; only this command pays for them.
    from workbench.engine.data import prepare_data
    from workbench.engine.loop import StopFlag, fit, handle_signals

    with lock:
        run_dir = run_dir.resolve()
        stop = StopFlag()
        with handle_signals(stop):
            with progress_bar() as progress:
                data = prepare_data(config.data, progress)
            display = TrainDisplay(quiet=False)
            try:
                with display:
                    result = fit(
                        config,
                        data,
                        run_dir,
                        subscribers=[display],
                        resume=args.resume,
                        stop=stop,
                    )
            except KeyboardInterrupt:
                return aborted(run_dir)
    return report(args, result, display, run_dir)


def aborted(run_dir: Path) -> int:
    """A second signal ended the run at once: say what is left."""
    err_console.print(f"[yellow]aborted[/]; last.pt in {run_dir} is the last good epoch")
    return EXIT_STOPPED


def report(
    args: argparse.Namespace, result: FitResult, display: TrainDisplay, run_dir: Path
) -> int:
    """The summary (a table, or ``--json``), what to do next, and the exit code."""
    from rich.markup import escape

    summary = summarize_result(result, display)
    if args.json:
        emit_json(summary)
    else:
        print_summary(summary)
    if result.state == "stopped":
        err_console.print(
            f"[yellow]{result.message}[/]; continue with: "
            f"workbench train --run-dir {run_dir} --resume",
            highlight=False,
        )
        return EXIT_STOPPED
    if result.state == "failed":
        err_console.print(f"[bold red]failed:[/] {escape(result.message)}", highlight=False)
        return EXIT_FAILED
    return 0


# ------------------------------------------------------------------------------ display


class TrainDisplay:
    """A subscriber that renders events on stderr: epoch and batch bars, a line per epoch."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.progress: RichProgress | None = None
        self.epoch_task: Any = None
        self.batch_task: Any = None
        self.started: Any = None
        self.last_line = ""
        self.epoch_seconds: list[float] = []
        self.images_per_second: list[float] = []

    def __enter__(self) -> TrainDisplay:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<6}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self.epoch_task = self.progress.add_task("epoch", total=1, info="starting")
        self.batch_task = self.progress.add_task("batch", total=1, info="")
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, event: Event) -> None:
        from rich.markup import escape

        from workbench.engine.events import (
            CheckpointSaved,
            EpochEnd,
            Progress,
            RunFailed,
            RunStarted,
            RunStopped,
        )

        bars = self.progress
        if bars is None:
            return
        if isinstance(event, RunStarted):
            self.started = event
            verb = "resuming" if event.resumed else "training"
            bars.console.print(
                f"[bold]{verb}[/] {event.run_dir}  {event.device}  "
                f"{event.train_images} train / {event.val_images} val images  "
                f"{event.params / 1e6:.2f} M params, {event.mult_adds / 1e6:.0f} M mult-adds/img",
                highlight=False,
            )
            bars.update(self.epoch_task, total=event.epochs, completed=event.start_epoch, info="")
            bars.update(self.batch_task, total=event.train_batches, completed=0)
        elif isinstance(event, Progress):
            eta = duration_text(event.eta_seconds)
            rate = (
                f"{event.images_per_second:.0f} img/s"
                if math.isfinite(event.images_per_second)
                else "validating"
            )
            bars.update(
                self.batch_task,
                total=event.batches,
                completed=event.batch,
                info=f"{event.phase} loss {event.loss:.4f}  {rate}",
            )
            bars.update(self.epoch_task, info=f"ETA {eta}  {self.last_line}")
        elif isinstance(event, EpochEnd):
            self.epoch_seconds.append(event.seconds)
            self.images_per_second.append(event.images_per_second)
            star = " [green]*best[/]" if event.improved else ""
            bars.console.print(
                f"epoch {event.epoch:>3}/{event.epochs}  "
                f"train loss {event.train.loss:.4f} acc {event.train.accuracy:.3f}  "
                f"val loss {event.val.loss:.4f} acc {event.val.accuracy:.3f} "
                f"f1 {event.val.f1:.3f}  lr {event.lr:.2e}  {event.seconds:.1f}s "
                f"{event.images_per_second:.0f} img/s{star}",
                highlight=False,
            )
            self.last_line = (
                f"val acc {event.val.accuracy:.3f} "
                f"(best {event.best_val_accuracy:.3f} @{event.best_epoch})"
            )
            bars.update(self.epoch_task, completed=event.epoch, info=self.last_line)
            bars.update(self.batch_task, completed=0)
        elif isinstance(event, CheckpointSaved):
            pass
        elif isinstance(event, RunStopped):
            bars.console.print(f"[yellow]stopping ({event.reason})[/]")
        elif isinstance(event, RunFailed):
            bars.console.print(f"[red]{escape(event.message)}[/]", highlight=False)


def summarize_result(result: FitResult, display: TrainDisplay) -> dict[str, Any]:
    started = display.started
    epochs = display.epoch_seconds
    summary: dict[str, Any] = {
        "run_dir": str(result.run_dir),
        "run_id": result.run_dir.name,
        "state": result.state,
        "message": result.message,
        "epochs_done": result.epochs_done,
        "epochs": started.epochs if started else None,
        "best_epoch": result.best_epoch,
        "best_val_accuracy": result.best_val_accuracy,
        "best_val_loss": result.best_val_loss if math.isfinite(result.best_val_loss) else None,
        "seconds": round(result.seconds, 3),
        "seconds_per_epoch": round(sum(epochs) / len(epochs), 3) if epochs else None,
        "train_images_per_second": (
            round(sum(display.images_per_second) / len(display.images_per_second), 1)
            if display.images_per_second
            else None
        ),
        "device": started.device if started else None,
        "params": started.params if started else None,
        "mult_adds": started.mult_adds if started else None,
        "classes": list(started.classes) if started else None,
        "split_fingerprint": started.split_fingerprint if started else None,
        "final": {
            "train": result.last_train.to_dict() if result.last_train else None,
            "val": result.last_val.to_dict() if result.last_val else None,
        },
        "checkpoints": {
            name: str(result.run_dir / "checkpoints" / f"{name}.pt")
            for name in ("best", "last")
            if (result.run_dir / "checkpoints" / f"{name}.pt").exists()
        },
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"run {summary['run_id']}", show_header=True, header_style="bold")
    table.add_column("", style="bold")
    table.add_column("loss", justify="right")
    table.add_column("accuracy", justify="right")
    table.add_column("precision", justify="right")
    table.add_column("recall", justify="right")
    table.add_column("f1", justify="right")
    for split in ("train", "val"):
        metrics = summary["final"][split]
        if metrics:
            table.add_row(
                f"{split} (last epoch)",
                *(f"{metrics[k]:.4f}" for k in ("loss", "accuracy", "precision", "recall", "f1")),
            )
    out_console.print(table)
    per_epoch = summary["seconds_per_epoch"]
    out_console.print(
        f"state [bold]{summary['state']}[/] after {summary['epochs_done']}/{summary['epochs']} "
        f"epochs; best val accuracy [bold]{summary['best_val_accuracy']:.4f}[/] "
        f"at epoch {summary['best_epoch']}; "
        f"{duration_text(summary['seconds'])} total"
        + (f", {per_epoch:.1f} s/epoch" if per_epoch else "")
        + f" on {summary['device']}",
        highlight=False,
    )
    out_console.print(f"run directory: [bold]{summary['run_dir']}[/]", highlight=False)
