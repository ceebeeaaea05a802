"""``workbench train``: train the CNN into a run directory, with a live display on stderr.

Exit codes: 0 finished (all epochs, or early stopping); 2 bad options or data (one line);
1 internal failure or a non-finite loss (status ``failed``, message naming epoch and batch);
130 stopped by SIGINT/SIGTERM/SIGHUP (the current batch finishes, ``last.pt`` is written,
status ``stopped``; continue with ``workbench train --run-dir DIR --resume``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.common import (
    HelpFormatter,
    add_data_options,
    check_folder_option,
    data_config_from_args,
    emit_json,
    err_console,
    options_named,
    out_console,
    progress_bar,
)
from workbench.config import (
    LOSSES,
    OPTIMIZERS,
    RESIZE_MODES,
    SCHEDULES,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    check_data_path,
)
from workbench.engine.timefmt import duration_text as _duration
from workbench.errors import RunBusyError, UsageError

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
"""

EXIT_STOPPED = 130
EXIT_FAILED = 1


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 16,32,64, got {text!r}") from None


def add_run_options(parser: argparse.ArgumentParser, *, resumable: bool = False) -> None:
    """Every option that sets a RunConfig field (data, training, model); shared with sweep.

    ``resumable``: the help says which options a resumed run takes from its own config.
    """
    add_data_options(parser, augment=True)
    parser.add_argument(
        "--resize",
        choices=RESIZE_MODES,
        default=DataConfig.resize,
        help="how images become square: stretch, centre crop or letterbox",
    )
    t, m = TrainConfig(), ModelConfig()
    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=t.epochs, help="passes over the train split")
    train.add_argument("--batch-size", type=int, default=t.batch_size, help="images per step")
    train.add_argument("--lr", type=float, default=t.lr, help="peak learning rate")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=t.optimizer, help="optimizer")
    train.add_argument(
        "--schedule", choices=SCHEDULES, default=t.schedule, help="lr schedule, stepped per batch"
    )
    train.add_argument(
        "--warmup-epochs",
        type=int,
        default=None,
        help=f"cosine warm-up epochs (default: {t.warmup_epochs}, at most --epochs)",
    )
    train.add_argument("--weight-decay", type=float, default=t.weight_decay, help="weight decay")
    train.add_argument(
        "--grad-clip", type=float, default=t.grad_clip, help="max gradient norm (0: off)"
    )
    train.add_argument("--loss", choices=LOSSES, default=t.loss, help="loss function")
    train.add_argument(
        "--label-smoothing", type=float, default=t.label_smoothing, help="ε of label_smoothing"
    )
    train.add_argument("--focal-gamma", type=float, default=t.focal_gamma, help="γ of focal")
    train.add_argument(
        "--early-stopping",
        type=int,
        default=t.early_stopping,
        metavar="EPOCHS",
        help="stop after this many epochs without a lower val loss (0: off)",
    )
    train.add_argument(
        "--device",
        default=None,
        help="auto (CUDA, then MPS, then CPU), cpu, cuda[:N], mps (default: auto"
        + ("; with --resume: the run's own)" if resumable else ")"),
    )
    train.add_argument(
        "--deterministic", action="store_true", help="deterministic kernels (slower on CUDA)"
    )
    train.add_argument(
        "--no-amp",
        action="store_true",
        help="float32 throughout (no bf16/fp16 autocast on CUDA or bf16 on a capable CPU)",
    )
    train.add_argument(
        "--num-workers",
        type=int,
        default=None,
        help=f"loader worker processes, albumentations backend (default: {t.num_workers}"
        + ("; with --resume: the run's own)" if resumable else ")"),
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--widths",
        type=_int_list,
        default=m.widths,
        metavar="C1,C2,...",
        help=f"channels of each stage (default: {','.join(map(str, m.widths))})",
    )
    model.add_argument(
        "--convs-per-stage", type=int, default=m.convs_per_stage, help="conv blocks per stage"
    )
    model.add_argument(
        "--stem", type=int, default=m.stem, help="channels of a stride-2 3x3 conv first (0: none)"
    )
    model.add_argument(
        "--residual",
        action=argparse.BooleanOptionalAction,
        default=m.residual,
        help="each stage's convs as one residual unit (skip connection)",
    )
    model.add_argument(
        "--squeeze-excite",
        action=argparse.BooleanOptionalAction,
        default=m.squeeze_excite,
        help="a squeeze-and-excitation channel gate after each stage's convs",
    )
    model.add_argument("--dropout", type=float, default=m.dropout, help="dropout before the head")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "train", help=HELP, description=DESCRIPTION, formatter_class=HelpFormatter
    )
    add_run_options(parser, resumable=True)
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
        "(--device, --num-workers and --data still apply)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as one JSON document on stdout"
    )
    return parser


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig the options describe; ConfigError names the option on failure."""
    data = data_config_from_args(args)
    if data.data is not None:
        data = dataclasses.replace(data, data=str(Path(data.data).expanduser().resolve()))
    data = dataclasses.replace(data, resize=args.resize)
    config = RunConfig(
        data=data,
        model=ModelConfig(
            widths=tuple(args.widths),
            convs_per_stage=args.convs_per_stage,
            dropout=args.dropout,
            stem=args.stem,
            residual=args.residual,
            squeeze_excite=args.squeeze_excite,
        ),
        train=TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            optimizer=args.optimizer,
            schedule=args.schedule,
            warmup_epochs=(
                TrainConfig.warmup_for(args.epochs)
                if args.warmup_epochs is None
                else args.warmup_epochs
            ),
            weight_decay=args.weight_decay,
            grad_clip=args.grad_clip,
            loss=args.loss,
            label_smoothing=args.label_smoothing,
            focal_gamma=args.focal_gamma,
            early_stopping=args.early_stopping,
            device=args.device or TrainConfig.device,
            deterministic=args.deterministic,
            amp=not args.no_amp,
            num_workers=TrainConfig.num_workers if args.num_workers is None else args.num_workers,
        ),
    )
    return _validated(config)


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
    config = run.config()
    data = config.data
    if args.data is not None:
        data = dataclasses.replace(data, data=str(Path(args.data).expanduser().resolve()))
    if args.cache_dir is not None:
        data = dataclasses.replace(data, cache_dir=args.cache_dir)
    train = config.train
    if args.device is not None:
        train = dataclasses.replace(train, device=args.device)
    if args.num_workers is not None:
        train = dataclasses.replace(train, num_workers=args.num_workers)
    return _validated(dataclasses.replace(config, data=data, train=train))


def _claim_new(run_dir: Path) -> RunLock:
    """Lock an empty (or new) ``--run-dir``; refuse one that holds anything but its lock,
    saying so when another process is training into it."""
    from workbench.engine.runs import LOCK, RunLock, lock_holder, run_is_live

    def refuse_if_used() -> None:
        if run_dir.is_dir() and any(p.name != LOCK for p in run_dir.iterdir()):
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
        return _claim_new(run_dir), run_dir, config
    run_dir = create_run_dir(args.runs_root, new_run_id(config.data))
    return RunLock.acquire(run_dir), run_dir, config


def run(args: argparse.Namespace) -> int:
    from workbench.cli.tuning import prepare_training_process

    check_folder_option("--run-dir", args.run_dir)
    if args.run_dir is None and not args.resume:  # the only case that creates a folder there
        check_folder_option("--runs-root", args.runs_root)
    with options_named():
        check_data_path(args.data)
    prepare_training_process()
    # torch and the engine cost about 1-2 s to import; only this command pays for them.
    from workbench.engine.data import prepare_data
    from workbench.engine.loop import StopFlag, fit, handle_signals

    lock, run_dir, config = _claim(args)
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
                err_console.print(
                    f"[yellow]aborted[/]; last.pt in {run_dir} is the last good epoch"
                )
                return EXIT_STOPPED
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
        err_console.print(f"[bold red]failed:[/] {result.message}", highlight=False)
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
            eta = _duration(event.eta_seconds)
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
            bars.console.print(f"[red]{event.message}[/]", highlight=False)


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
        f"{_duration(summary['seconds'])} total"
        + (f", {per_epoch:.1f} s/epoch" if per_epoch else "")
        + f" on {summary['device']}",
        highlight=False,
    )
    out_console.print(f"run directory: [bold]{summary['run_dir']}[/]", highlight=False)
