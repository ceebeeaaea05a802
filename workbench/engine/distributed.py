"""torch.distributed for the training loop: who this process is, its process group, and the
few collectives that keep every process's decisions the same.

``workbench train --nproc-per-node N`` starts N copies of itself under torchrun, which gives
each its rank in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``).
Every process trains on its share of each batch (:class:`~workbench.engine.loader.BatchLoader`
with ``rank``/``world``), DistributedDataParallel averages the gradients, and the loop asks the
others before every decision that ends a phase (a stop, a non-finite loss), so all processes
leave a loop at the same batch and none waits for a collective that never comes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from workbench.engine.metrics import MetricAccumulator

GROUP_TIMEOUT_SECONDS = 60
"""How long a collective waits for a process that does not come: a hung process (a dead one
closes its sockets, and the others fail at once) ends the run after this, never later."""
PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal this process gets when its parent dies."""


@dataclass(frozen=True)
class World:
    """This process's place among the run's processes (rank 0 alone writes the run)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        """More than one process: the collectives below are needed."""
        return self.size > 1


SINGLE = World()
"""One process: no process group, no collectives."""


def launched_by_torchrun() -> bool:
    """True in a process that torchrun started (it sets these in every worker's environment)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def world_from_env() -> World:
    """The World torchrun describes in the environment (SINGLE outside torchrun)."""
    if not launched_by_torchrun():
        return SINGLE
    return World(
        rank=int(os.environ["RANK"]),
        size=int(os.environ["WORLD_SIZE"]),
        local_rank=int(os.environ["LOCAL_RANK"]),
    )


def join(world: World) -> None:
    """Join the process group, with a bounded wait: gloo for tensors on the CPU (the small
    collectives of decisions and objects, and all of a CPU run's), NCCL for those on CUDA
    (the gradients and statistics of a GPU run)."""
    if not world.active or dist.is_initialized():
        return
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, timeout=timedelta(seconds=GROUP_TIMEOUT_SECONDS))


def device_name(world: World, wanted: str) -> str:
    """The device this process trains on: its own GPU (``cuda:LOCAL_RANK``) when ``wanted``
    lets it choose a GPU and there is one, else ``wanted``."""
    if world.active and wanted in ("auto", "cuda") and torch.cuda.is_available():
        torch.cuda.set_device(world.local_rank)
        return f"cuda:{world.local_rank}"
    return wanted


def leave() -> None:
    """Leave the process group (after the last collective)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def die_with_parent() -> None:
    """Ask Linux for SIGTERM when torchrun, this worker's parent, dies (however it dies), so
    a killed launcher never leaves workers training on their own; a no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
    except (OSError, AttributeError):
        return


def any_rank(world: World, *flags: bool | torch.Tensor) -> list[bool]:
    """Each flag, true if it is true in any process (one small all-reduce)."""
    if not world.active:
        return [bool(flag) for flag in flags]
    values = torch.stack([torch.as_tensor(flag).cpu().bool().reshape(()) for flag in flags])
    values = values.to(torch.int32)  # on the CPU: gloo, whatever trains
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return [bool(v) for v in values.tolist()]


def broadcast(world: World, value: Any) -> Any:
    """Rank 0's ``value`` (any picklable object, tensors on the CPU), in every process."""
    if not world.active:
        return value
    box = [value if world.is_main else None]
    dist.broadcast_object_list(box, src=0)  # through the CPU (gloo)
    return box[0]


def gather_metrics(world: World, acc: MetricAccumulator) -> MetricAccumulator:
    """Every process's losses and predictions of the epoch in one accumulator (the same in
    each process), so the epoch's metrics are those of one process that saw every image."""
    if not world.active:
        return acc
    states: list[Any] = [None] * world.size
    dist.all_gather_object(states, acc.state_dict())
    return MetricAccumulator.merged(states)


def share_buffers(world: World, model: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) in every process: each process's own
    moved with its last batch, and validation must use the ones the checkpoint saves."""
    if not world.active:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def data_parallel(model: nn.Module, world: World, device: torch.device, sync_bn: bool) -> nn.Module:
    """``model`` for the training step: DistributedDataParallel under several processes (with
    SyncBatchNorm on CUDA when asked), else the model itself. The checkpoint is always the
    plain module's, so it loads in one process on the CPU."""
    if not world.active:
        return model
    if sync_bn and device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def barrier(world: World) -> None:
    """Wait until every process gets here."""
    if world.active:
        dist.barrier()


def total(world: World, count: int) -> int:
    """``count`` summed over every process."""
    if not world.active:
        return count
    value = torch.tensor([count], dtype=torch.int64)
    dist.all_reduce(value)
    return int(value.item())


def free_port() -> int:
    """A TCP port on this machine that nobody listens on now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def lost_peer(error: BaseException) -> bool:
    """True when ``error`` is a collective failing because another process of the run is gone
    (its sockets closed) or hung (the group's timeout): torch raises these as DistError or as
    RuntimeErrors naming the backend."""
    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    words = ("gloo", "Gloo", "NCCL", "Connection closed", "Connection reset", "Timed out")
    return isinstance(error, RuntimeError) and any(word in text for word in words)
