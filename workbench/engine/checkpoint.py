"""Checkpoints: state dicts only, written atomically, loadable with ``weights_only=True``.

A checkpoint is a plain dict of tensors and Python primitives (no pickled classes), so
``torch.load(path, weights_only=True)`` reads it and a checkpoint from an untrusted source cannot
run code. Keys:

``format``        1
``epoch``         completed epochs
``batch``         batches of epoch ``epoch + 1`` already trained (0: an epoch boundary)
``model``         the model's state dict (always contiguous NCHW, on the CPU)
``optimizer``, ``scheduler``, ``scaler``   their state dicts
``rng``           torch CPU/CUDA, numpy and Python random states
``config``        the RunConfig as a dict;  ``classes``: class names;  ``image_size``
``best``          best epoch, accuracy and loss so far; ``early_stopping``: its counters
``partial``       the interrupted epoch's running sums (only when ``batch`` > 0)
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.engine.atomic import atomic_write_bytes

FORMAT = 1


def rng_state() -> dict[str, Any]:
    """Every random state that influences training, in weights_only-loadable types."""
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np.asarray(np_state["state"]["key"], dtype=np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"].cpu())
    np_raw = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": np_raw["bit_generator"],
            "state": {"key": np_raw["key"].numpy().astype(np.uint32), "pos": np_raw["pos"]},
            "has_gauss": np_raw["has_gauss"],
            "gauss": np_raw["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _to_lists(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_lists(v) for v in value]
    return value


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temp file + rename).

    The checkpoint is serialised in memory first (tens of MB) and written by Python: torch's
    own file writer reports a full disk as a RuntimeError ("iostream error"), Python as the
    OSError it is, which the commands turn into one clear line.
    """
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``); tensors land on ``map_location``."""
    state: dict[str, Any] = torch.load(path, map_location=map_location, weights_only=True)
    return state


def cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached, contiguous CPU copy of ``module``'s state dict (portable across devices)."""
    return {
        key: value.detach().to("cpu", copy=True).contiguous()
        for key, value in module.state_dict().items()
    }
