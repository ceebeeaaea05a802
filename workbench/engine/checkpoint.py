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
``ema``           with ``--ema``: the averaged weights (``model``) and ``updates`` (not in best.pt,
                  whose ``model`` they are)
``mean``, ``std`` the train split's channel statistics;  ``split_fingerprint``

:func:`read_checkpoint` is the one reader: it loads safely and checks every key it is asked
for (types and consistency included), so a damaged or foreign file ends in one
:class:`~workbench.errors.RunFileError` line naming it, never in a traceback deep inside torch.
"""

from __future__ import annotations

import io
import math
import pickle
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.config import IMAGE_SIZES
from workbench.engine.atomic import atomic_write_bytes
from workbench.errors import RunFileError

FORMAT = 1
EVALUATION_KEYS = ("model", "config", "classes", "image_size", "mean", "std")
"""What a workbench checkpoint must hold to be evaluated."""
RESUME_KEYS = (
    *EVALUATION_KEYS,
    *("format", "epoch", "batch", "optimizer", "scheduler", "scaler", "rng", "best"),
    "split_fingerprint",
)
"""What it must hold, besides, to continue training from it."""
TRACKER_KEYS = ("best_epoch", "best_accuracy", "best_loss", "lowest_loss", "since_lowest")
"""``best``: the loop's best-epoch and early-stopping counters."""


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


def load_checkpoint(
    path: str | Path | io.BytesIO, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``); tensors land on ``map_location``.
    Unchecked: readers of files a user has call :func:`read_checkpoint`."""
    state: dict[str, Any] = torch.load(path, map_location=map_location, weights_only=True)
    return state


def read_checkpoint(path: str | Path, *, resume: bool = False) -> dict[str, Any]:
    """The checkpoint at ``path``, loaded with ``weights_only=True`` and checked: the keys
    evaluation needs (``resume``: and those training continues from), of the right types,
    consistent (three finite channel means in [0, 1] and spreads > 0, finite weights, ...).

    RunFileError (one line naming the file) otherwise. A pickle that references anything but
    tensors and plain containers, one that would run code, is refused by PyTorch's restricted
    unpickler before anything in it runs; torch's advice to load it unrestricted is not passed
    on.
    """
    path = Path(path)
    state = _load(path)
    if not isinstance(state, dict):
        raise RunFileError(path, f"not a workbench checkpoint (it holds a {type(state).__name__})")
    keys = RESUME_KEYS if resume else EVALUATION_KEYS
    missing = [key for key in keys if key not in state]
    if missing:
        raise RunFileError(path, f"not a workbench checkpoint (no {', '.join(missing)})")
    for key, (check, wanted) in CHECKS.items():
        if key in state and not check(state[key]):
            raise RunFileError(path, f"its {key!r} must be {wanted}, not {_shown(state[key])}")
    if resume and state["format"] != FORMAT:
        raise RunFileError(path, f"is of format {state['format']}; this version reads {FORMAT}")
    if resume and state["batch"] > 0 and not isinstance(state.get("partial"), dict):
        raise RunFileError(path, "was written mid-epoch but holds no 'partial' sums")
    for key, value in state["model"].items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise RunFileError(path, f"holds non-finite weights (NaN or infinity) in {key}")
    return state


def _load(path: Path) -> Any:
    try:
        data = path.read_bytes()  # read first: an OSError inside torch is the bytes' fault
    except FileNotFoundError:
        raise RunFileError(path, "is missing") from None
    except OSError as error:
        raise RunFileError(path, f"cannot be read ({error.strerror or error})") from None
    if not data:
        raise RunFileError(path, "is empty (0 bytes), not a checkpoint")
    try:
        return load_checkpoint(io.BytesIO(data))
    except pickle.UnpicklingError as error:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
        found = re.search(r"WeightsUnpickler error:\s*([^\n]*)", text)
        detail = found.group(1).strip() if found else "content other than tensors"
        raise RunFileError(
            path,
            f"refused: not a plain weights checkpoint ({detail[:100]}); nothing in it was run",
            advice="",
        ) from None
    except Exception as error:  # arbitrary bytes fail anywhere inside the restricted unpickler
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if not first or "weights_only" in first.lower() or "weights only" in first.lower():
            first = type(error).__name__
        raise RunFileError(
            path, f"not a checkpoint: truncated, or another kind of file ({first[:100]})"
        ) from None


def _is_int(value: object, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _channel_stats(low: float, high: float, *, open_low: bool) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        if not isinstance(value, list | tuple) or len(value) != 3:
            return False
        numbers = [v for v in value if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) != 3 or not all(math.isfinite(v) for v in numbers):
            return False
        return all((low < v if open_low else low <= v) and v <= high for v in numbers)

    return check


def _state_dict(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
    )


def _class_names(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= 1
        and all(isinstance(v, str) and v for v in value)
        and len(set(value)) == len(value)
    )


def _rng(value: object) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("torch"), torch.Tensor):
        return False
    numpy_state, python_state = value.get("numpy"), value.get("python")
    numpy_ok = isinstance(numpy_state, dict) and isinstance(numpy_state.get("key"), torch.Tensor)
    python_ok = isinstance(python_state, list) and len(python_state) == 3
    return numpy_ok and python_ok


def _tracker(value: object) -> bool:
    if not isinstance(value, dict) or set(value) != set(TRACKER_KEYS):
        return False
    numbers = [value[k] for k in TRACKER_KEYS]
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers)


CHECKS: dict[str, tuple[Callable[[object], bool], str]] = {
    "model": (_state_dict, "a state dict of named tensors"),
    "config": (lambda v: isinstance(v, dict), "a dict"),
    "classes": (_class_names, "a list of distinct class names"),
    "image_size": (lambda v: v in IMAGE_SIZES and _is_int(v), f"one of {IMAGE_SIZES}"),
    "mean": (_channel_stats(0.0, 1.0, open_low=False), "3 finite channel means in [0, 1]"),
    "std": (_channel_stats(0.0, 1.0, open_low=True), "3 finite channel spreads in (0, 1]"),
    "split_fingerprint": (lambda v: isinstance(v, str), "a string"),
    "format": (_is_int, "an integer"),
    "epoch": (_is_int, "a count of epochs"),
    "batch": (_is_int, "a count of batches"),
    "optimizer": (lambda v: isinstance(v, dict), "a state dict"),
    "scheduler": (lambda v: isinstance(v, dict), "a state dict"),
    "scaler": (lambda v: isinstance(v, dict), "a state dict"),
    "rng": (_rng, "the random states (torch, numpy, python)"),
    "best": (_tracker, f"the counters {', '.join(TRACKER_KEYS)}"),
}
"""What each key of a checkpoint must be, and how to say it."""


def _shown(value: object) -> str:
    text = repr(value) if not isinstance(value, torch.Tensor) else f"a tensor {tuple(value.shape)}"
    return text if len(text) <= 40 else text[:37] + "..."


def _tensor_shape(value: Any) -> str:
    return "x".join(str(d) for d in value.shape) if hasattr(value, "shape") else "?"


def architecture_mismatch(model: torch.nn.Module, weights: dict[str, Any]) -> str | None:
    """One line saying how ``weights`` do not fit ``model``, or None if they fit."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in weights]
    unexpected = [key for key in weights if key not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} tensor(s) the model needs are absent (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} are not in the model (e.g. {unexpected[0]})")
        return "another architecture: " + "; ".join(parts)
    for key, value in expected.items():
        got = weights[key]
        if not isinstance(got, torch.Tensor) or got.shape != value.shape:
            return (
                f"another architecture: {key} is {_tensor_shape(got)} in the checkpoint "
                f"but {_tensor_shape(value)} in the model the config describes"
            )
    return None


def cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached, contiguous CPU copy of ``module``'s state dict (portable across devices)."""
    return {
        key: value.detach().to("cpu", copy=True).contiguous()
        for key, value in module.state_dict().items()
    }
