"""Helpers for the torch.distributed tests: a BatchNorm-free network, a free port, and the
worker that ``torch.multiprocessing.spawn`` runs once per rank (importable, as spawn needs).

The network has no BatchNorm because its statistics depend on how the batch is split: with it
two processes cannot equal one, by design (on the CPU each normalises its own share).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from workbench.config import RunConfig
from workbench.engine import loop
from workbench.engine.model import build_model


def build_model_without_batchnorm(config: Any, num_classes: int) -> nn.Module:
    """The configured network with every BatchNorm replaced by an identity."""
    model = build_model(config, num_classes)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, name, nn.Identity())
    return model


def first_step_gradients(ctx: Any) -> dict[str, torch.Tensor]:
    """The gradients the first optimiser step of ``ctx`` applies (after DDP's all-reduce),
    filled in when that step comes."""
    grads: dict[str, torch.Tensor] = {}

    def capture(*_: Any) -> None:
        if not grads:
            for name, param in ctx.model.named_parameters():
                assert param.grad is not None, name
                grads[name] = param.grad.detach().clone()

    ctx.optimizer.register_step_pre_hook(capture)
    return grads


def spawned_rank(rank: int, size: int, port: int, config: RunConfig, out: str) -> None:
    """One process of a 2-rank gloo run of the tiny in-memory data into ``out``/run; rank 0
    also saves the first step's (all-reduced) gradients to ``out``/grads-<rank>.pt."""
    from tests.support.tiny_loop import tiny_data
    from workbench.engine.distributed import World, join, leave

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    world = World(rank=rank, size=size, local_rank=rank)
    join(world)
    loop.build_model = build_model_without_batchnorm  # type: ignore[attr-defined]
    build = loop._build
    grads: list[dict[str, torch.Tensor]] = []

    def build_and_watch(*args: Any) -> Any:
        ctx = build(*args)
        grads.append(first_step_gradients(ctx))
        return ctx

    loop._build = build_and_watch  # type: ignore[assignment]
    try:
        result = loop.fit(config, tiny_data(), Path(out) / "run", world=world)
        assert result.state == "finished", result.message
        torch.save(grads[0], Path(out) / f"grads-{rank}.pt")
    finally:
        leave()
