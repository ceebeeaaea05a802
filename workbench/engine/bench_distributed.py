"""``workbench bench --nproc-per-node N``: one process with all the threads, or N processes
with their share each (DistributedDataParallel over gloo), on the same batches.

Both train the default model on the workbench's own pipeline (decode cache, batched
augmentation) with the same global batch, so the images per second say what splitting the
machine into processes gains or costs: on a CPU, N processes avoid the threads' idle time in
small kernels but pay an all-reduce of the gradients per step.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.multiprocessing as mp

from workbench.config import DataConfig, ModelConfig
from workbench.engine.device import default_cpu_threads, setup_device
from workbench.engine.distributed import (
    SINGLE,
    World,
    barrier,
    free_port,
    join,
    leave,
    total,
)


@dataclass(frozen=True)
class ScalingRow:
    """One way of using the machine."""

    processes: int
    threads_per_process: int
    images_per_second: float
    images: int
    seconds: float


@dataclass(frozen=True)
class ScalingResult:
    device: str
    image_size: int
    batch_size: int
    rows: tuple[ScalingRow, ...]

    @property
    def speedup(self) -> float:
        """The processes' images per second over the one process's."""
        return self.rows[1].images_per_second / self.rows[0].images_per_second

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"speedup": self.speedup}


def run_scaling_bench(
    data_config: DataConfig,
    *,
    nproc: int,
    batch_size: int = 64,
    batches: int = 10,
    warmup: int = 2,
    device: str = "cpu",
) -> ScalingResult:
    """One process with ``threads`` threads, then ``nproc`` processes with ``threads // nproc``
    each (``threads``: every core this process may use, at least ``nproc``)."""
    from workbench.engine.data import prepare_data

    threads = max(default_cpu_threads(), nproc)
    data = prepare_data(data_config)  # decoded once here; the processes read the cache
    torch.set_num_threads(threads)
    setup = setup_device(device)
    one = _time(data_config, SINGLE, batch_size, batches, warmup, device)
    results: Any = mp.get_context("spawn").SimpleQueue()
    share = max(1, threads // nproc)
    settings = (free_port(), share, data_config, batch_size, batches, warmup, device, results)
    mp.spawn(_rank, args=(nproc, *settings), nprocs=nproc, join=True)
    many = results.get()
    return ScalingResult(
        device=setup.describe(),
        image_size=data.image_size,
        batch_size=batch_size,
        rows=(
            ScalingRow(1, threads, one[0] / one[1], one[0], one[1]),
            ScalingRow(nproc, share, many[0] / many[1], many[0], many[1]),
        ),
    )


def _rank(
    rank: int,
    size: int,
    port: int,
    threads: int,
    data_config: DataConfig,
    batch_size: int,
    batches: int,
    warmup: int,
    device: str,
    results: Any,
) -> None:
    """One of the processes (started by torch.multiprocessing.spawn); rank 0 reports."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank))
    torch.set_num_threads(threads)
    world = World(rank=rank, size=size, local_rank=rank)
    join(world)
    try:
        timed = _time(data_config, world, batch_size, batches, warmup, device)
        if world.is_main:
            results.put(timed)
    finally:
        leave()


def _time(
    data_config: DataConfig, world: World, batch_size: int, batches: int, warmup: int, device: str
) -> tuple[int, float]:
    """(images, seconds) of ``batches`` training steps of the global batch after ``warmup``,
    all of this world's processes together."""
    from workbench.engine.bench import repeat_batches, time_training
    from workbench.engine.data import prepare_data
    from workbench.engine.distributed import device_name
    from workbench.engine.loader import BatchLoader

    data = prepare_data(data_config)
    setup = setup_device(device_name(world, device))
    loader = BatchLoader(
        data,
        "train",
        batch_size=batch_size,
        shuffle=True,
        augment="builtin",
        seed=data_config.seed,
        device=setup.device,
        channels_last=setup.channels_last,
        rank=world.rank,
        world=world.size,
    )
    loader.set_epoch(1)
    barrier(world)
    _n, images, seconds = time_training(
        repeat_batches(loader, warmup + batches),
        model_config=ModelConfig(),
        num_classes=data.num_classes,
        setup=setup,
        warmup=warmup,
        world=world,
    )
    return total(world, images), seconds
