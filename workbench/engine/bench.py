"""``workbench bench``: where the time of a training epoch goes.

Three pipelines train the same model (same config, batch size, image size, optimizer and loss)
for the same number of batches, and each reports training images per second:

1. **notebook** -- what a student writes: ``torchvision.datasets.ImageFolder`` decoding every
   JPEG with PIL every epoch and resizing it, a per-sample albumentations pipeline (the same kinds
   of transforms as the built-in one) in ``DataLoader`` worker processes.
2. **workbench** -- the decode cache (each image decoded once, at size) and the batched
   augmentation on the training device (:class:`workbench.engine.loader.BatchLoader`).
3. **compute** -- the model's forward and backward pass alone on one batch already in memory.

(2) and (3) take turns batch by batch, so a shared machine's changing load hits both alike;
(1) runs on its own (its worker processes would otherwise prepare batches in the background
while the others are timed).

``(2)/(3)`` says how close the workbench's input pipeline gets to the model's own speed;
``(2)/(1)`` how much faster it is than the notebook's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from workbench.config import DataConfig, ModelConfig, TrainConfig
from workbench.engine.device import DeviceSetup, setup_device
from workbench.engine.distributed import SINGLE, World, data_parallel
from workbench.engine.losses import CrossEntropy
from workbench.engine.model import build_model, summarize
from workbench.engine.optim import build_optimizer
from workbench.engine.progress import ProgressFn, report

if TYPE_CHECKING:
    from workbench.engine.prepared import PreparedData

PIPELINES = ("notebook", "workbench", "compute")


@dataclass(frozen=True)
class BenchRow:
    """One pipeline's measurement."""

    pipeline: str
    description: str
    images_per_second: float
    """Training images per second (forward, backward and optimizer step included)."""
    batches: int
    images: int
    seconds: float
    note: str = ""


@dataclass(frozen=True)
class BenchResult:
    """The three rows, the ratios and what they were measured on."""

    device: str
    image_size: int
    batch_size: int
    model_params: int
    model_mult_adds: int
    data: str
    rows: tuple[BenchRow, ...]
    workbench_vs_notebook: float | None
    """(2)/(1); None when the notebook pipeline could not run (e.g. a .zip data set)."""
    workbench_vs_compute: float
    """(2)/(3)."""
    prepare_seconds: float
    """Time to scan, split and load (or build) the decode cache before pipeline (2)."""
    cache_hit: bool
    threads: int = field(default_factory=torch.get_num_threads)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def row(self, pipeline: str) -> BenchRow | None:
        return next((r for r in self.rows if r.pipeline == pipeline), None)


class _AlbumentationsTransform:
    """PIL image -> normalised float CHW tensor, per sample, like a course notebook does it."""

    def __init__(self, size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        import albumentations as A  # about 0.5 s (cv2)
        import cv2
        from albumentations.pytorch import ToTensorV2

        self.compose = A.Compose(
            [
                A.Resize(size, size),
                A.RandomResizedCrop(size=(size, size), scale=(0.6, 1.0), p=0.8),
                A.HorizontalFlip(p=0.5),
                A.Affine(
                    rotate=(-15, 15),
                    translate_percent=(-0.08, 0.08),
                    scale=(0.9, 1.1),
                    border_mode=cv2.BORDER_REFLECT_101,
                    p=0.5,
                ),
                A.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.3, hue=0.03, p=0.8),
                A.CoarseDropout(
                    num_holes_range=(1, 2),
                    hole_height_range=(0.1, 0.3),
                    hole_width_range=(0.1, 0.3),
                    p=0.5,
                ),
                A.Normalize(mean=mean, std=std),
                ToTensorV2(),
            ]
        )

    def __call__(self, image: Any) -> torch.Tensor:
        out: torch.Tensor = self.compose(image=np.asarray(image.convert("RGB")))["image"]
        return out


class _OneHot:
    def __init__(self, classes: int) -> None:
        self.classes = classes

    def __call__(self, label: int) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.tensor(label), self.classes).float()


def notebook_loader(
    folder: Path,
    *,
    usable: Collection[str],
    image_size: int,
    batch_size: int,
    num_workers: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    device: torch.device,
) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Pipeline (1): ImageFolder + PIL decode + per-sample albumentations in workers.

    Only the files the scan found usable (``usable``: paths relative to ``folder``) are read:
    ImageFolder alone would open anything named like an image, a FIFO included, and hang.
    """
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    wanted = set(usable)

    def valid(path: str) -> bool:
        return Path(path).relative_to(folder).as_posix() in wanted

    probe = ImageFolder(str(folder), is_valid_file=valid)
    dataset = ImageFolder(
        str(folder),
        transform=_AlbumentationsTransform(image_size, mean, std),
        target_transform=_OneHot(len(probe.classes)),
        is_valid_file=valid,
    )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        persistent_workers=False,
    )


def _batches(loader: Iterable[Any], count: int) -> Iterator[Any]:
    for index, batch in enumerate(loader):
        if index >= count:
            return
        yield batch


class _Trainer:
    """A fresh model, optimizer and scaler; ``step`` trains on one batch (timed by the caller).
    Under several processes (``world``) the model is wrapped in DistributedDataParallel."""

    def __init__(
        self,
        model_config: ModelConfig,
        num_classes: int,
        setup: DeviceSetup,
        world: World = SINGLE,
    ) -> None:
        torch.manual_seed(0)
        self.setup = setup
        model = build_model(model_config, num_classes).to(setup.device)
        if setup.channels_last:
            model = model.to(memory_format=torch.channels_last)
        model.train()
        self.optimizer = build_optimizer(model, TrainConfig())
        self.model = data_parallel(model, world, setup.device, sync_bn=False)
        self.scaler = setup.make_scaler()
        self.loss_fn = CrossEntropy()

    def step(self, x_raw: torch.Tensor, y_raw: torch.Tensor) -> int:
        setup = self.setup
        x = x_raw.to(setup.device, non_blocking=True)
        y = y_raw.to(setup.device, non_blocking=True)
        if setup.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with setup.autocast():
            loss = self.loss_fn(self.model(x), y)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return int(x.shape[0])


def time_training(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    model_config: ModelConfig,
    num_classes: int,
    setup: DeviceSetup,
    warmup: int,
    progress: Callable[[int], None] | None = None,
    world: World = SINGLE,
) -> tuple[int, int, float]:
    """Train a fresh model on ``batches``; the first ``warmup`` are not timed.

    Returns (timed batches, timed images, seconds). The clock includes waiting for each batch,
    so a slow input pipeline shows. Under several processes (``world``), this process's.
    """
    trainer = _Trainer(model_config, num_classes, setup, world)
    images, timed, started = 0, 0, time.perf_counter()
    for index, (x_raw, y_raw) in enumerate(batches):
        if index == warmup:
            _sync(setup)
            started = time.perf_counter()
        count = trainer.step(x_raw, y_raw)
        if index >= warmup:
            images += count
            timed += 1
        if progress is not None:
            progress(index + 1)
    _sync(setup)
    return timed, images, time.perf_counter() - started


def time_interleaved(
    pipelines: dict[str, Iterator[tuple[torch.Tensor, torch.Tensor]]],
    *,
    settle: dict[str, Callable[[], None]] | None = None,
    model_config: ModelConfig,
    num_classes: int,
    setup: DeviceSetup,
    batches: int,
    warmup: int,
    progress: Callable[[int], None] | None = None,
) -> dict[str, tuple[int, int, float]]:
    """Time several in-process pipelines batch by batch in turn, each with its own model.

    Taking turns means a change in the machine's load (other processes) hits every pipeline
    alike, so their ratio stays meaningful on a shared machine. Each pipeline's clock covers
    fetching its batch (loading and augmenting) and the training step. ``settle[name]()`` is
    called before a pipeline's clock stops: it waits for work that pipeline started in the
    background (the next batch), so none of it runs on another pipeline's clock.
    """
    settle = settle or {}
    trainers = {name: _Trainer(model_config, num_classes, setup) for name in pipelines}
    totals = {name: [0, 0, 0.0] for name in pipelines}
    for index in range(warmup + batches):
        for name, stream in pipelines.items():
            _sync(setup)
            started = time.perf_counter()
            x_raw, y_raw = next(stream)
            count = trainers[name].step(x_raw, y_raw)
            if name in settle:
                settle[name]()
            _sync(setup)
            if index >= warmup:
                total = totals[name]
                total[0] += 1
                total[1] += count
                total[2] += time.perf_counter() - started
        if progress is not None:
            progress(index + 1)
    return {name: (int(t[0]), int(t[1]), float(t[2])) for name, t in totals.items()}


def _sync(setup: DeviceSetup) -> None:
    if setup.device.type == "cuda":
        torch.cuda.synchronize(setup.device)


@dataclass(frozen=True)
class _Plan:
    """What every pipeline of one bench shares: the data, device, model and batch counts."""

    data: PreparedData
    setup: DeviceSetup
    model_config: ModelConfig
    batch_size: int
    warmup: int
    batches: int
    progress: ProgressFn | None

    @property
    def total(self) -> int:
        return self.warmup + self.batches

    def ticker(self, name: str) -> Callable[[int], None]:
        return lambda done: report(self.progress, f"bench: {name}", done, self.total)


def run_bench(
    data_config: DataConfig,
    *,
    model_config: ModelConfig | None = None,
    batch_size: int = 64,
    batches: int = 10,
    warmup: int = 2,
    device: str = "auto",
    num_workers: int = 2,
    pipelines: tuple[str, ...] = PIPELINES,
    progress: ProgressFn | None = None,
) -> BenchResult:
    """Measure the three pipelines (each ``warmup`` + ``batches`` batches) and compare them."""
    from workbench.engine.data import prepare_data

    setup = setup_device(device)
    started = time.perf_counter()
    data = prepare_data(data_config, progress)
    prepare_seconds = time.perf_counter() - started
    plan = _Plan(
        data=data,
        setup=setup,
        model_config=model_config or ModelConfig(),
        batch_size=batch_size,
        warmup=warmup,
        batches=batches,
        progress=progress,
    )
    rows: list[BenchRow] = []
    if "notebook" in pipelines:
        rows.append(_notebook_row(plan, num_workers))
    rows.extend(_interleaved_rows(plan, pipelines, seed=data_config.seed))
    return _result(plan, rows, prepare_seconds)


def _notebook_row(plan: _Plan, num_workers: int) -> BenchRow:
    """Pipeline (1), timed on its own (a zip data set has no folder for ImageFolder)."""
    data = plan.data
    if data.scan.is_zip:
        return BenchRow("notebook", "ImageFolder", float("nan"), 0, 0, 0.0, "zip")
    loader = notebook_loader(
        Path(data.scan.location) / data.scan.prefix,
        usable=data.scan.paths,
        image_size=data.image_size,
        batch_size=plan.batch_size,
        num_workers=num_workers,
        mean=data.mean,
        std=data.std,
        device=plan.setup.device,
    )
    n, images, seconds = time_training(
        _batches(loader, plan.total),
        model_config=plan.model_config,
        num_classes=data.num_classes,
        setup=plan.setup,
        warmup=plan.warmup,
        progress=plan.ticker("notebook"),
    )
    return BenchRow(
        "notebook",
        f"ImageFolder + PIL decode + albumentations, {num_workers} workers",
        images / seconds if seconds else float("nan"),
        n,
        images,
        seconds,
    )


def _workbench_stream(
    plan: _Plan, seed: int
) -> tuple[Iterator[tuple[torch.Tensor, torch.Tensor]], Callable[[], None] | None]:
    """Pipeline (2)'s batches, and what waits for its background batch (None: no prefetch)."""
    from workbench.engine.loader import BatchLoader

    loader = BatchLoader(
        plan.data,
        "train",
        batch_size=plan.batch_size,
        shuffle=True,
        augment="builtin",
        seed=seed,
        device=plan.setup.device,
        channels_last=plan.setup.channels_last,
    )
    loader.set_epoch(1)
    return repeat_batches(loader, plan.total), loader.settle if loader.prefetch else None


def _compute_stream(plan: _Plan) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Pipeline (3)'s batches: one random batch already on the device, over and over."""
    setup, size, classes = plan.setup, plan.data.image_size, plan.data.num_classes
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(plan.batch_size, 3, size, size, generator=generator).to(setup.device)
    if setup.channels_last:  # in the layout the workbench loader hands over
        x = x.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, classes, (plan.batch_size,), generator=generator)
    y = torch.nn.functional.one_hot(labels, classes).float().to(setup.device)
    return iter([(x, y)] * plan.total)


def _interleaved_rows(plan: _Plan, pipelines: Collection[str], *, seed: int) -> list[BenchRow]:
    """Pipelines (2) and (3), timed batch by batch in turn (:func:`time_interleaved`)."""
    streams: dict[str, Iterator[tuple[torch.Tensor, torch.Tensor]]] = {}
    settle: dict[str, Callable[[], None]] = {}
    if "workbench" in pipelines:
        streams["workbench"], waiter = _workbench_stream(plan, seed)
        if waiter is not None:
            settle["workbench"] = waiter
    if "compute" in pipelines:
        streams["compute"] = _compute_stream(plan)
    timings = time_interleaved(
        streams,
        settle=settle,
        model_config=plan.model_config,
        num_classes=plan.data.num_classes,
        setup=plan.setup,
        batches=plan.batches,
        warmup=plan.warmup,
        progress=plan.ticker("workbench + compute"),
    )
    background = ", next batch on a thread" if "workbench" in settle else ""
    descriptions = {
        "workbench": f"decode cache + batched augmentation on {plan.setup.device.type}{background}",
        "compute": "forward + backward on one in-memory batch",
    }
    return [
        BenchRow(name, descriptions[name], images / seconds, n, images, seconds)
        for name, (n, images, seconds) in timings.items()
    ]


def _result(plan: _Plan, rows: list[BenchRow], prepare_seconds: float) -> BenchResult:
    """The rows with their ratios and what they were measured on."""
    data = plan.data
    rates = {row.pipeline: row.images_per_second for row in rows}
    notebook = rates.get("notebook", float("nan"))
    summary = summarize(build_model(plan.model_config, data.num_classes), data.image_size)
    return BenchResult(
        device=plan.setup.describe(),
        image_size=data.image_size,
        batch_size=plan.batch_size,
        model_params=summary.total_params,
        model_mult_adds=summary.mult_adds,
        data=data.scan.source,
        rows=tuple(rows),
        workbench_vs_notebook=(
            rates["workbench"] / notebook
            if "workbench" in rates and notebook == notebook and notebook > 0
            else None
        ),
        workbench_vs_compute=(
            rates["workbench"] / rates["compute"]
            if "workbench" in rates and "compute" in rates
            else float("nan")
        ),
        prepare_seconds=prepare_seconds,
        cache_hit=data.cache_hit,
    )


def repeat_batches(loader: Any, count: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` batches from ``loader``, starting a new epoch when one runs out."""
    done, epoch = 0, 1
    while True:
        for batch in loader:
            if done >= count:
                return
            done += 1
            yield batch
        epoch += 1
        loader.set_epoch(epoch)
