"""``fit()``: train and validate every epoch, emit events, write checkpoints, resume, stop.

The loop is a fixed sequence with a fixed event vocabulary (``workbench.engine.events``); the
run directory, the CLI display and the TUI are subscribers. Epoch functions return
:class:`~workbench.engine.metrics.EpochMetrics` (timm style); ``fit`` logs them via events.

Reproducibility: the loader's order and augmentation are a pure function of (seed, epoch) and
batch number, every other random state (torch, numpy, Python, CUDA) is saved in each checkpoint,
and a checkpoint written mid-epoch records how many batches were done and the epoch's running
sums. So on the CPU a run stopped at any batch and resumed writes the same metric rows, to the
last digit, as the run left alone (only the ``seconds`` column differs).

Stopping: :class:`StopFlag` (set by SIGINT/SIGTERM/SIGHUP inside :func:`handle_signals`, or by
the caller) is checked after every batch: the batch finishes, ``last.pt`` is written and the run
ends with RunStopped. A non-finite loss ends it with RunFailed naming the epoch and batch; the
checkpoints of earlier epochs are left as they were.

Several processes (``world``, :mod:`workbench.engine.distributed`): each trains its share of
every batch through DistributedDataParallel and validates its share; the epochs' metrics are
gathered, so they are those of one process that saw every image; process 0 alone writes the
run, from the plain module (no ``module.`` prefix in the checkpoints).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from torch import nn

from workbench.config import RunConfig
from workbench.engine.checkpoint import (
    FORMAT,
    architecture_mismatch,
    cpu_state_dict,
    read_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from workbench.engine.data import seed_everything
from workbench.engine.device import DeviceSetup, setup_device
from workbench.engine.distributed import (
    SINGLE,
    World,
    any_rank,
    broadcast,
    data_parallel,
    device_name,
    gather_metrics,
    lost_peer,
    share_buffers,
)
from workbench.engine.ema import WeightAverage
from workbench.engine.epoch_metrics import EpochMetrics
from workbench.engine.events import (
    CheckpointSaved,
    EpochEnd,
    Event,
    Progress,
    RunFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    Subscriber,
)
from workbench.engine.loader import BatchLoader, mix_seed
from workbench.engine.losses import build_loss
from workbench.engine.metrics import MetricAccumulator
from workbench.engine.mixup import BatchMixer, build_mixer
from workbench.engine.model import build_model, summarize
from workbench.engine.optim import build_optimizer, build_scheduler, current_lr
from workbench.engine.precise_bn import CleanBatches, recalibrate
from workbench.engine.prepared import PreparedData
from workbench.engine.runs import CHECKPOINTS_DIR, SPLIT, Run, RunLock, RunRecorder
from workbench.engine.split import write_manifest
from workbench.errors import RunFileError, UsageError

LOST_PEER = "another process of this run ended, so this one stopped too"
"""What a run that lost one of its processes records (the gloo/NCCL error says only that a
socket closed); last.pt is the last epoch all of them finished."""
PROGRESS_INTERVAL = 0.25
"""Seconds between Progress events (at most 4 per second)."""


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite."""

    def __init__(self, epoch: int, batch: int, value: float) -> None:
        super().__init__(
            f"non-finite loss ({value}) at epoch {epoch}, batch {batch}; "
            "try a lower --lr or --grad-clip; checkpoints of earlier epochs are kept"
        )
        self.epoch = epoch
        self.batch = batch


class StopFlag:
    """A thread-safe request to stop after the current batch, with the reason."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def request(self, reason: str = "stop requested") -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def handle_signals(stop: StopFlag) -> Iterator[StopFlag]:
    """While active, SIGINT/SIGTERM/SIGHUP request a clean stop; a second one aborts at once.

    Only the main thread may install signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt(signal.Signals(signum).name)
        stop.request(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass(frozen=True)
class FitResult:
    """How fit() ended. ``state``: finished, stopped or failed."""

    run_dir: Path
    state: str
    epochs_done: int
    best_epoch: int
    best_val_accuracy: float
    best_val_loss: float
    seconds: float
    message: str = ""
    last_train: EpochMetrics | None = None
    last_val: EpochMetrics | None = None
    history: list[EpochEnd] = field(default_factory=list)


@dataclass
class _Tracker:
    """Best epoch (highest val accuracy, ties: lower val loss) and early-stopping counters."""

    best_epoch: int = 0
    best_accuracy: float = -1.0
    best_loss: float = math.inf
    lowest_loss: float = math.inf
    since_lowest: int = 0

    def update(self, epoch: int, val: EpochMetrics) -> bool:
        if val.loss < self.lowest_loss:
            self.lowest_loss, self.since_lowest = val.loss, 0
        else:
            self.since_lowest += 1
        better = val.accuracy > self.best_accuracy or (
            val.accuracy == self.best_accuracy and val.loss < self.best_loss
        )
        if better:
            self.best_epoch, self.best_accuracy, self.best_loss = epoch, val.accuracy, val.loss
        return better

    def state_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


class _LossCheck:
    """Training losses not yet checked for NaN or infinity, left where they were computed.

    Reading each batch's loss (``float(loss)``) would make the CPU wait for the GPU every
    step, so the next batch could never be queued while this one computes. The losses are
    checked together as often as progress is reported, and before a phase ends or stops
    (before anything is saved); the error still names the first bad batch.
    """

    def __init__(self) -> None:
        self._batches: list[int] = []
        self._losses: list[torch.Tensor] = []

    def add(self, batch: int, loss: torch.Tensor) -> None:
        self._batches.append(batch)
        self._losses.append(loss.detach())

    def check(self, epoch: int) -> None:
        """Raise NonFiniteLossError for the first bad loss added since the last check."""
        if not self._losses:
            return
        values = torch.stack(self._losses).float().cpu()
        batches = self._batches
        self._batches, self._losses = [], []
        bad = torch.nonzero(~torch.isfinite(values)).flatten()
        if len(bad):
            first = int(bad[0])
            raise NonFiniteLossError(epoch, batches[first], float(values[first]))


class _Emitter:
    def __init__(self, subscribers: Sequence[Subscriber]) -> None:
        self.subscribers = list(subscribers)
        self.last_progress = 0.0
        self.epochs_done = 0
        """Completed epochs as the events told it (for a forced stop's RunStopped)."""

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.epochs_done = event.start_epoch
        elif isinstance(event, EpochEnd):
            self.epochs_done = event.epoch
        for subscriber in self.subscribers:
            subscriber(event)

    def progress_due(self, *, force: bool = False) -> bool:
        """At most once every PROGRESS_INTERVAL seconds; always when ``force``d (the last
        batch of a phase, so that its bar ends full)."""
        now = time.monotonic()
        if force or now - self.last_progress >= PROGRESS_INTERVAL:
            self.last_progress = now
            return True
        return False


@dataclass
class _Context:
    """Everything one fit() call trains with."""

    config: RunConfig
    data: PreparedData
    run_dir: Path
    setup: DeviceSetup
    model: nn.Module
    """The plain module: what checkpoints save and validation runs."""
    net: nn.Module
    """What the training step calls: DistributedDataParallel around ``model`` under several
    processes, else ``model`` itself."""
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    train_loader: Any
    val_loader: Any
    emit: _Emitter
    stop: StopFlag
    ema: WeightAverage | None = None
    """With ``--ema``: the averaged weights, which validation and best.pt use."""
    mixer: BatchMixer | None = None
    """With ``--mixup``/``--cutmix``: mixes each training batch, as (seed, epoch, batch) say."""
    clean_batches: CleanBatches | None = None
    """With ``--precise-bn``: the images whose statistics BatchNorm validates with."""
    world: World = SINGLE
    tracker: _Tracker = field(default_factory=_Tracker)
    start: float = field(default_factory=time.monotonic)
    work_done: int = 0
    work_total: int = 1

    def stop_agreed(self) -> bool:
        """A stop asked of any process (every process gets the same answer)."""
        return any_rank(self.world, self.stop.is_set())[0]

    def epoch_metrics(self, acc: MetricAccumulator) -> EpochMetrics:
        """The metrics of every process's share of the epoch together."""
        return gather_metrics(self.world, acc).compute()

    def eta(self) -> float:
        elapsed = time.monotonic() - self.start
        if self.work_done == 0:
            return math.nan
        return elapsed / self.work_done * max(0, self.work_total - self.work_done)


def to_device(
    x: torch.Tensor, y: torch.Tensor, setup: DeviceSetup
) -> tuple[torch.Tensor, torch.Tensor]:
    """Move a batch to the device (a no-op for the built-in loader) in the right layout."""
    x = x.to(setup.device, non_blocking=True)
    y = y.to(setup.device, non_blocking=True)
    if setup.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


def train_one_epoch(
    ctx: _Context,
    epoch: int,
    *,
    skip: int = 0,
    accumulator: MetricAccumulator | None = None,
    rng_after_skip: dict[str, Any] | None = None,
) -> tuple[EpochMetrics | None, MetricAccumulator, int]:
    """Train on every batch of ``epoch`` from batch ``skip`` on.

    Returns (metrics, accumulator, batches done); metrics is None if a stop was requested
    before the epoch's last batch (the accumulator then holds the partial sums).
    """
    acc = accumulator or MetricAccumulator(ctx.data.num_classes)
    batches = len(ctx.train_loader)
    ctx.train_loader.set_epoch(epoch)
    if ctx.world.rank:  # dropout masks of its own (rank 0's stream is the saved one)
        torch.manual_seed(mix_seed(ctx.config.data.seed, epoch, 2, ctx.world.rank))
        rng_after_skip = None
    ctx.model.train()
    seen, started = 0, time.monotonic()
    losses = _LossCheck()
    done = skip
    if skip >= batches:  # stopped during validation: every batch is in the accumulator
        if rng_after_skip is not None:
            set_rng_state(rng_after_skip)
        return ctx.epoch_metrics(acc), acc, skip
    for index, (x_raw, y_raw) in enumerate(ctx.train_loader):
        if index < skip:
            continue  # the loader's batches are a pure function of (seed, epoch, index)
        if index == skip and rng_after_skip is not None:
            set_rng_state(rng_after_skip)
        x, y = to_device(x_raw, y_raw, ctx.setup)
        if ctx.mixer is not None:
            x, y = ctx.mixer(x, y, epoch, index)
        loss, logits = _train_step(ctx, x, y, ctx.train_loader.batch_images(index))
        losses.add(index + 1, loss)
        acc.update(loss, logits, y)
        done = index + 1
        seen += x.shape[0]
        ctx.work_done += 1
        stop = _after_step(ctx, epoch, done, loss)
        if ctx.emit.progress_due(force=done == batches):
            losses.check(epoch)
            rate = seen * ctx.world.size / max(time.monotonic() - started, 1e-9)
            ctx.emit(_progress(ctx, epoch, "train", done, batches, rate, acc))
        if stop and done < batches:
            losses.check(epoch)  # a stop saves last.pt: never with weights a NaN reached
            return None, acc, done
    losses.check(epoch)
    return ctx.epoch_metrics(acc), acc, done


def _train_step(
    ctx: _Context, x: torch.Tensor, y: torch.Tensor, batch_images: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step on this process's share ``x`` of a batch of ``batch_images``;
    returns the share's mean loss and its logits.

    DistributedDataParallel averages the processes' gradients; weighting each process's loss
    by its share of the batch (times the number of processes) makes that average the gradient
    of the whole batch's mean loss, also when the shares differ by an image."""
    with ctx.setup.autocast():
        logits = ctx.net(x)
        loss = ctx.loss_fn(logits, y)
    weight = x.shape[0] * ctx.world.size / batch_images
    ctx.scaler.scale(loss * weight if weight != 1 else loss).backward()
    clip = ctx.config.train.grad_clip
    if clip > 0:
        ctx.scaler.unscale_(ctx.optimizer)
        nn.utils.clip_grad_norm_(ctx.model.parameters(), clip)
    ctx.scaler.step(ctx.optimizer)
    ctx.scaler.update()
    ctx.optimizer.zero_grad(set_to_none=True)
    ctx.scheduler.step()
    if ctx.ema is not None:
        ctx.ema.update(ctx.model)
    return loss, logits


def _after_step(ctx: _Context, epoch: int, done: int, loss: torch.Tensor) -> bool:
    """Whether to stop after this batch. Under several processes every one asks the others
    (a stop, a non-finite loss) after every batch, so that all leave the epoch together: one
    tiny all-reduce on the CPU per step (on CUDA it waits for the step), the price of never
    waiting for a process that has already left the loop."""
    if not ctx.world.active:
        return ctx.stop.is_set()
    stop, bad = any_rank(ctx.world, ctx.stop.is_set(), ~torch.isfinite(loss.detach().float()))
    if bad:
        raise NonFiniteLossError(epoch, done, float(loss) if not torch.isfinite(loss) else math.nan)
    return stop


@torch.inference_mode()
def validate(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: nn.Module,
    setup: DeviceSetup,
    num_classes: int,
    *,
    on_batch: Callable[[int, MetricAccumulator], bool] | None = None,
    world: World = SINGLE,
) -> EpochMetrics | None:
    """Metrics of ``model`` on ``loader`` in eval mode, without gradients or updates.

    ``on_batch(batches_done, accumulator)`` may return True to abandon the pass (then None).
    The model's train/eval mode is restored afterwards. Under several processes (``world``)
    each validates its share of every batch and the metrics are those of all shares together:
    the same as one process validating the whole split.
    """
    was_training = model.training
    model.eval()
    acc = MetricAccumulator(num_classes)
    try:
        for index, (x_raw, y_raw) in enumerate(loader):
            x, y = to_device(x_raw, y_raw, setup)
            with setup.autocast():
                logits = model(x)
                loss = loss_fn(logits, y)
            acc.update(loss, logits, y)
            if on_batch is not None and on_batch(index + 1, acc):
                return None
    finally:
        model.train(was_training)
    return gather_metrics(world, acc).compute()


def _progress(
    ctx: _Context,
    epoch: int,
    phase: str,
    batch: int,
    batches: int,
    rate: float,
    acc: MetricAccumulator,
) -> Progress:
    memory, total = ctx.setup.memory_gb()
    return Progress(
        epoch=epoch,
        epochs=ctx.config.train.epochs,
        phase=phase,
        batch=batch,
        batches=batches,
        images_per_second=rate,
        loss=acc.running_loss(),
        eta_seconds=ctx.eta(),
        memory_gb=memory,
        memory_total_gb=total,
    )


def _checkpoint_state(
    ctx: _Context, epoch: int, batch: int = 0, partial: dict[str, Any] | None = None
) -> dict[str, Any]:
    state = {
        "format": FORMAT,
        "epoch": epoch,
        "batch": batch,
        "model": cpu_state_dict(ctx.model),
        "optimizer": ctx.optimizer.state_dict(),
        "scheduler": ctx.scheduler.state_dict(),
        "scaler": ctx.scaler.state_dict(),
        "rng": rng_state(),
        "config": ctx.config.to_dict(),
        "classes": list(ctx.data.classes),
        "image_size": ctx.data.image_size,
        "mean": list(ctx.data.mean),
        "std": list(ctx.data.std),
        "split_fingerprint": ctx.data.fingerprint,
        "best": ctx.tracker.state_dict(),
        "world_size": ctx.world.size,
    }
    if partial is not None:
        state["partial"] = partial
    if ctx.ema is not None:
        state["ema"] = ctx.ema.state_dict()
    return state


def _best_state(state: dict[str, Any]) -> dict[str, Any]:
    """best.pt's state: with ``--ema`` the averaged weights are its model (eval, export and
    predict read them unchanged); the live weights stay in last.pt for resuming."""
    if "ema" not in state:
        return state
    return {key: value for key, value in state.items() if key != "ema"} | {
        "model": state["ema"]["model"]
    }


def _save(ctx: _Context, name: str, state: dict[str, Any]) -> None:
    if not ctx.world.is_main:
        return  # process 0 alone writes the run
    path = save_checkpoint(ctx.run_dir / CHECKPOINTS_DIR / f"{name}.pt", state)
    ctx.emit(CheckpointSaved(epoch=int(state["epoch"]), name=name, path=str(path)))


def _build(
    config: RunConfig,
    data: PreparedData,
    run_dir: Path,
    emit: _Emitter,
    stop: StopFlag,
    loss_fn: nn.Module | None,
    world: World,
) -> _Context:
    train = config.train
    device = device_name(world, train.device)
    setup = setup_device(device, amp=train.amp, deterministic=train.deterministic)
    model = build_model(config.model, data.num_classes)
    if setup.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model = model.to(setup.device)
    net = data_parallel(model, world, setup.device, sync_bn=train.sync_batchnorm)
    loaders = {
        split: BatchLoader(
            data,
            split,
            batch_size=train.batch_size,
            shuffle=split == "train",
            augment=config.data.augment if split == "train" else "none",
            seed=config.data.seed,
            device=setup.device,
            num_workers=train.num_workers,
            channels_last=setup.channels_last,
            rank=world.rank,
            world=world.size,
        )
        for split in ("train", "val")
    }
    optimizer = build_optimizer(model, train)
    ema = WeightAverage(model, train.ema) if train.ema > 0 else None
    clean = None
    if train.precise_bn:  # every process the same images: the same statistics everywhere
        clean_loader = BatchLoader(
            data,
            "train",
            batch_size=train.batch_size,
            shuffle=True,
            augment="none",
            seed=config.data.seed,
            device=setup.device,
            num_workers=0,
            channels_last=setup.channels_last,
            prefetch=False,
        )
        clean = CleanBatches(clean_loader, train.precise_bn)
    scheduler = build_scheduler(optimizer, train, len(loaders["train"]))
    return _Context(
        config=config,
        data=data,
        run_dir=run_dir,
        setup=setup,
        model=model,
        net=net,
        loss_fn=(loss_fn or build_loss(train)).to(setup.device),
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=setup.make_scaler(),
        train_loader=loaders["train"],
        val_loader=loaders["val"],
        emit=emit,
        stop=stop,
        ema=ema,
        mixer=build_mixer(train, config.data.seed),
        clean_batches=clean,
        world=world,
    )


def fit(
    config: RunConfig,
    data: PreparedData,
    run_dir: str | Path,
    *,
    subscribers: Sequence[Subscriber] = (),
    resume: bool = False,
    stop: StopFlag | None = None,
    loss_fn: nn.Module | None = None,
    record: bool = True,
    world: World = SINGLE,
) -> FitResult:
    """Train ``config`` on ``data`` into ``run_dir``; return how it ended.

    ``subscribers`` receive every event after the run-directory recorder (unless
    ``record=False``). ``resume`` continues from ``run_dir/checkpoints/last.pt`` (the config
    should be the run's own, see :meth:`workbench.engine.runs.Run.config`). ``stop`` lets a
    caller (a signal handler, the TUI) end the run cleanly after the current batch.
    ``loss_fn`` overrides the configured loss (tests inject faults with it).

    Returns a FitResult with state ``finished``, ``stopped`` or ``failed`` (non-finite loss).
    Other exceptions are reported as RunFailed and re-raised.

    The run directory's lock is held throughout (RunBusyError if another process holds it). A
    resume first reads and checks every file of the run and both checkpoints, and applies
    last.pt to the model before anything is written: a damaged or foreign file is refused
    with one RunFileError line and the run is left as it was.

    ``world``: this process's place in a torch.distributed run (its process group joined).
    Every process trains its share of each batch; process 0 alone holds the lock, reads
    last.pt (and hands it to the others) and writes the run; the others record nothing.
    """
    config.validate()
    _check_shares(data, world)
    run_dir = Path(run_dir)
    with RunLock.acquire(run_dir) if world.is_main else contextlib.nullcontext():
        checkpoint = _resume_state(run_dir, data, world) if resume and world.is_main else None
        checkpoint = broadcast(world, checkpoint) if resume else None
        record = record and world.is_main
        return _fit(config, data, run_dir, subscribers, checkpoint, stop, loss_fn, record, world)


def _check_shares(data: PreparedData, world: World) -> None:
    """UsageError when a split has fewer images than there are processes to share it."""
    for split in ("train", "val"):
        count = len(data.split.indices(split))
        if count < world.size:
            raise UsageError(
                f"the {split} split has {count} image(s), fewer than the {world.size} "
                "processes that would share it; train on fewer processes"
            )


def _resume_state(run_dir: Path, data: PreparedData, world: World) -> dict[str, Any]:
    """last.pt of the run to continue, after checking the run's files (UsageError if not)."""
    last = run_dir / CHECKPOINTS_DIR / "last.pt"
    if not last.exists():
        raise UsageError(f"{run_dir}: nothing to resume (no {CHECKPOINTS_DIR}/last.pt)")
    Run(run_dir).check_files()
    checkpoint = read_checkpoint(last, resume=True)
    best = run_dir / CHECKPOINTS_DIR / "best.pt"
    if best.exists():
        read_checkpoint(best)  # continuing would keep a damaged best.pt as the run's result
    if checkpoint["split_fingerprint"] != data.fingerprint:
        raise UsageError(
            f"{run_dir}: the data's split fingerprint {data.fingerprint} differs from the "
            f"run's {checkpoint['split_fingerprint']}; resume with the same --data"
        )
    trained_on = checkpoint.get("world_size", 1)
    if trained_on != world.size:
        raise UsageError(
            f"{run_dir}: this run trains on {trained_on} process(es), not {world.size}; "
            f"resume it with as many (--nproc-per-node x --nnodes = {trained_on})"
        )
    return checkpoint


def _fit(
    config: RunConfig,
    data: PreparedData,
    run_dir: Path,
    subscribers: Sequence[Subscriber],
    checkpoint: dict[str, Any] | None,
    stop: StopFlag | None,
    loss_fn: nn.Module | None,
    record: bool,
    world: World,
) -> FitResult:
    stop = stop or StopFlag()
    recorder: list[Subscriber] = [RunRecorder(run_dir)] if record else []
    emit = _Emitter([*recorder, *subscribers])
    if checkpoint is None:
        seed_everything(config.data.seed)
        if world.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_manifest(data.split, run_dir / SPLIT)

    try:
        ctx = _build(config, data, run_dir, emit, stop, loss_fn, world)
        start_epoch, skip = 0, 0
        partial: MetricAccumulator | None = None
        rng_after_skip: dict[str, Any] | None = None
        if checkpoint is not None:
            start_epoch, skip, partial, rng_after_skip = _restore(ctx, checkpoint)
        return _run(ctx, checkpoint is not None, start_epoch, skip, partial, rng_after_skip)
    except NonFiniteLossError as error:
        emit(RunFailed(message=str(error), epoch=error.epoch, batch=error.batch, error="nonfinite"))
        return FitResult(run_dir, "failed", error.epoch - 1, 0, 0.0, math.inf, 0.0, str(error))
    except KeyboardInterrupt as interrupt:
        # A second signal while stopping: leave at once; last.pt is the last good epoch's.
        emit(RunStopped(epochs_done=emit.epochs_done, reason=f"{interrupt} (forced)"))
        raise
    except UsageError:
        raise  # bad input (e.g. a device that is not here): nothing was trained or changed
    except BaseException as error:
        # Best effort: on a full disk the run directory cannot take this either, and the
        # error to report is the one that ended the run.
        message = f"{type(error).__name__}: {error}"
        if world.active and lost_peer(error):
            message = LOST_PEER  # the launcher names the process that ended
        with contextlib.suppress(OSError):
            emit(RunFailed(message=message, error=type(error).__name__))
        raise


def _restore(
    ctx: _Context, checkpoint: dict[str, Any]
) -> tuple[int, int, MetricAccumulator | None, dict[str, Any] | None]:
    """Apply last.pt to the freshly built model, optimizer, ...: (start epoch, batches to skip,
    the partial epoch's sums, the RNG state after them). RunFileError (nothing emitted, nothing
    written) when it does not fit this run's config."""
    last = ctx.run_dir / CHECKPOINTS_DIR / "last.pt"
    problem = architecture_mismatch(ctx.model, checkpoint["model"])
    if problem is not None:
        raise RunFileError(last, f"{problem} (not this run's config.json)", advice="")
    epochs = ctx.config.train.epochs
    start_epoch, skip = checkpoint["epoch"], checkpoint["batch"]
    if start_epoch > epochs or skip > len(ctx.train_loader):
        raise RunFileError(
            last, f"is at epoch {start_epoch}, batch {skip}: beyond this run of {epochs} epochs"
        )
    try:
        ctx.model.load_state_dict(checkpoint["model"])
        ctx.optimizer.load_state_dict(checkpoint["optimizer"])
        ctx.scheduler.load_state_dict(checkpoint["scheduler"])
        ctx.scaler.load_state_dict(checkpoint["scaler"])
        ctx.tracker.load_state_dict(checkpoint["best"])
        if ctx.ema is not None:
            ctx.ema.load_state_dict(checkpoint["ema"])
        set_rng_state(checkpoint["rng"])  # mid-epoch: again at the batch it stopped after
        if skip and "partial" in checkpoint:
            # Process 0 carries the partial sums of all; each other starts its share afresh.
            partial = MetricAccumulator.from_state_dict(checkpoint["partial"], ctx.setup.device)
            return start_epoch, skip, partial if ctx.world.is_main else None, checkpoint["rng"]
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        reason = str(error).strip().splitlines()[0][:100] if str(error).strip() else ""
        raise RunFileError(
            last, f"does not fit this run ({type(error).__name__}: {reason})"
        ) from None
    return start_epoch, 0, None, None


def _run(
    ctx: _Context,
    resumed: bool,
    start_epoch: int,
    skip: int,
    partial: MetricAccumulator | None,
    rng_after_skip: dict[str, Any] | None,
) -> FitResult:
    config, data = ctx.config, ctx.data
    epochs = config.train.epochs
    train_batches, val_batches = len(ctx.train_loader), len(ctx.val_loader)
    ctx.work_total = (epochs - start_epoch) * (train_batches + val_batches) - skip
    summary = summarize(ctx.model, data.image_size)
    ctx.emit(
        RunStarted(
            run_id=ctx.run_dir.name,
            run_dir=str(ctx.run_dir),
            config=json.loads(config.to_json()),
            classes=tuple(data.classes),
            device=_device_text(ctx),
            epochs=epochs,
            start_epoch=start_epoch,
            train_batches=train_batches,
            val_batches=val_batches,
            train_images=len(data.split.indices("train")),
            val_images=len(data.split.indices("val")),
            params=summary.total_params,
            mult_adds=summary.mult_adds,
            split_fingerprint=data.fingerprint,
            resumed=resumed,
            pid=os.getpid(),
            world_size=ctx.world.size,
        )
    )
    history: list[EpochEnd] = []
    reason = "completed"
    epoch = start_epoch
    for epoch in range(start_epoch + 1, epochs + 1):
        started = time.monotonic()
        train_metrics, acc, done = train_one_epoch(
            ctx, epoch, skip=skip, accumulator=partial, rng_after_skip=rng_after_skip
        )
        skip, partial, rng_after_skip = 0, None, None
        train_seconds = time.monotonic() - started
        if train_metrics is None:
            return _stopped(ctx, epoch - 1, done, acc, history)
        share_buffers(ctx.world, ctx.model)  # validate (and save) process 0's statistics
        validated = ctx.model if ctx.ema is None else ctx.ema.module
        if ctx.ema is not None:  # the average copied each process's own statistics
            share_buffers(ctx.world, validated)
        if ctx.clean_batches is not None:
            recalibrate(validated, ctx.clean_batches, ctx.setup.autocast)
        val_metrics = validate(
            validated,
            ctx.val_loader,
            ctx.loss_fn,
            ctx.setup,
            data.num_classes,
            on_batch=functools.partial(_val_batch, ctx, epoch, batches=val_batches),
            world=ctx.world,
        )
        if val_metrics is None:  # stop asked during validation: keep the trained epoch
            return _stopped(ctx, epoch - 1, done, acc, history)
        seconds = time.monotonic() - started
        improved = ctx.tracker.update(epoch, val_metrics)
        end = EpochEnd(
            epoch=epoch,
            epochs=epochs,
            train=train_metrics,
            val=val_metrics,
            lr=current_lr(ctx.optimizer),
            seconds=seconds,
            train_seconds=train_seconds,
            images_per_second=train_metrics.count / max(train_seconds, 1e-9),
            best_epoch=ctx.tracker.best_epoch,
            best_val_accuracy=ctx.tracker.best_accuracy,
            improved=improved,
        )
        history.append(end)
        ctx.emit(end)
        state = _checkpoint_state(ctx, epoch)
        if improved:
            _save(ctx, "best", _best_state(state))
        _save(ctx, "last", state)
        patience = config.train.early_stopping
        if patience and ctx.tracker.since_lowest >= patience and epoch < epochs:
            reason = "early_stopping"
            break
        if ctx.stop_agreed() and epoch < epochs:
            return _stopped(ctx, epoch, 0, None, history)
    seconds = time.monotonic() - ctx.start
    ctx.emit(
        RunFinished(
            epochs_done=epoch,
            best_epoch=ctx.tracker.best_epoch,
            best_val_accuracy=ctx.tracker.best_accuracy,
            best_val_loss=ctx.tracker.best_loss,
            seconds=seconds,
            reason=reason,
        )
    )
    return _result(ctx, "finished", epoch, f"finished ({reason})", history)


def _device_text(ctx: _Context) -> str:
    """``cpu bf16 (2 threads)``; under several processes ``2 x cpu bf16 (1 threads)``."""
    described = ctx.setup.describe()
    return f"{ctx.world.size} x {described}" if ctx.world.active else described


def _val_batch(
    ctx: _Context, epoch: int, done: int, acc: MetricAccumulator, *, batches: int
) -> bool:
    ctx.work_done += 1
    if ctx.emit.progress_due(force=done == batches):
        ctx.emit(_progress(ctx, epoch, "val", done, batches, math.nan, acc))
    return ctx.stop_agreed() and done < batches


def _stopped(
    ctx: _Context,
    epochs_done: int,
    batch: int,
    acc: MetricAccumulator | None,
    history: list[EpochEnd],
) -> FitResult:
    """Write last.pt (with the partial epoch, if any) and end the run as stopped."""
    if batch:
        assert acc is not None
        partial = gather_metrics(ctx.world, acc).state_dict()
        _save(ctx, "last", _checkpoint_state(ctx, epochs_done, batch, partial))
    ctx.emit(RunStopped(epochs_done=epochs_done, reason=ctx.stop.reason, batch=batch))
    message = f"stopped by {ctx.stop.reason} after epoch {epochs_done}"
    if batch:
        message += f" and {batch} batch(es) of the next"
    return _result(ctx, "stopped", epochs_done, message, history)


def _result(
    ctx: _Context, state: str, epochs_done: int, message: str, history: list[EpochEnd]
) -> FitResult:
    return FitResult(
        run_dir=ctx.run_dir,
        state=state,
        epochs_done=epochs_done,
        best_epoch=ctx.tracker.best_epoch,
        best_val_accuracy=max(ctx.tracker.best_accuracy, 0.0),
        best_val_loss=ctx.tracker.best_loss,
        seconds=time.monotonic() - ctx.start,
        message=message,
        last_train=history[-1].train if history else None,
        last_val=history[-1].val if history else None,
        history=history,
    )
