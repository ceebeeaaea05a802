"""An exponential moving average (EMA) of a model's weights, for ``--ema DECAY``.

After every optimiser step each parameter of the averaged copy moves towards the
live one, ``ema = d·ema + (1 - d)·param``, and every buffer (BatchNorm's running statistics and
counters) is copied as it is. The average of the last ~1/(1-d) steps sits in a flatter, better
generalising spot than the last step's weights, at the cost of one extra copy of the weights.

The decay of update ``n`` (counting from 1) is ``min(d, (1 + n) / (10 + n))``: early on the
average follows the model closely, so the random initial weights fade within a few epochs instead
of dominating a short run (the ``num_updates`` rule of TensorFlow's ExponentialMovingAverage).

This is a few lines of our own rather than ``torch.optim.swa_utils.AveragedModel``: that one
averages with a fixed decay (no warm-up), leaves the buffers alone unless it averages them too,
and prefixes its state dict's keys with ``module.``; here the averaged weights' state dict is the
model's own, so ``best.pt`` holds them under the ordinary ``model`` key.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from workbench.engine.checkpoint import cpu_state_dict


def unwrapped(model: nn.Module) -> nn.Module:
    """The network itself inside a (Distributed)DataParallel wrapper, else ``model``."""
    wrappers = (nn.parallel.DistributedDataParallel, nn.DataParallel)
    return model.module if isinstance(model, wrappers) else model


def decay_at(decay: float, update: int) -> float:
    """The decay applied by update number ``update`` (1, 2, ...): warmed up, at most ``decay``."""
    return min(decay, (1 + update) / (10 + update))


class WeightAverage:
    """The EMA of ``model``'s weights: a frozen copy in eval mode, updated by :meth:`update`."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(unwrapped(model)).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step towards ``model`` (call after each optimiser step)."""
        self.updates += 1
        weight = 1.0 - decay_at(self.decay, self.updates)
        live = unwrapped(model)
        averaged: list[torch.Tensor] = list(self.module.parameters())
        torch._foreach_lerp_(averaged, [p.detach() for p in live.parameters()], weight)
        for mine, theirs in zip(self.module.buffers(), live.buffers(), strict=True):
            mine.copy_(theirs)

    def state_dict(self) -> dict[str, Any]:
        """Plain tensors and an int (``weights_only``-loadable): the weights and the count."""
        return {"model": cpu_state_dict(self.module), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["model"])
        self.updates = int(state["updates"])
