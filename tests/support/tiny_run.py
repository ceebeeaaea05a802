"""A tiny learnable image folder and one run trained on it, made once per test session.

The folder has three classes whose images carry a class colour plus noise, so a 2-stage CNN
learns them in a few epochs; the run is trained with the real ``fit`` into a real run directory,
so evaluation, exports and the CLI read exactly what a student's run would hold.
"""

from __future__ import annotations

import atexit
import copy
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tests.support.tiny_loop import TINY_TRAIN
from workbench.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from workbench.engine.data import prepare_data
from workbench.engine.loop import fit
from workbench.engine.prepared import PreparedData

CLASSES = ("cats", "dogs", "panda")
PER_CLASS = 20


@dataclass(frozen=True)
class TinyRun:
    root: Path
    data_dir: Path
    cache_dir: Path
    run_dir: Path
    config: RunConfig


def write_tinted_folder(folder: Path, classes: tuple[str, ...] = CLASSES, seed: int = 0) -> Path:
    """``PER_CLASS`` 40x32 PNG images per class: noise plus a strong class colour."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(PER_CLASS):
            pixels = rng.integers(0, 90, (32, 40, 3), dtype=np.int64)
            pixels[..., label % 3] += 150
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB").save(
                folder / name / f"{name}_{i:04d}.png"
            )
    return folder


def tiny_run_config(data_dir: Path, cache_dir: Path, **train: object) -> RunConfig:
    options: dict[str, object] = {**TINY_TRAIN, **train}
    return RunConfig(
        data=DataConfig(data=str(data_dir), image_size=64, cache_dir=str(cache_dir)),
        model=ModelConfig(widths=(8, 16), dropout=0.0, stem=8),
        train=TrainConfig(**options),  # type: ignore[arg-type]
    ).validate()


@functools.cache
def tiny_run() -> TinyRun:
    """The session's trained run (about 2 s on one CPU core)."""
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="workbench-q3-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    data_dir = write_tinted_folder(root / "images")
    cache_dir = root / "cache"
    config = tiny_run_config(data_dir, cache_dir)
    run_dir = root / "runs" / "tiny"
    result = fit(config, prepare_data(config.data), run_dir)
    assert result.state == "finished", result.message
    return TinyRun(root, data_dir, cache_dir, run_dir, config)


@functools.cache
def tiny_data() -> PreparedData:
    return prepare_data(tiny_run().config.data)


def damaged_checkpoint(path: Path, seed: int = 1) -> Path:
    """The tiny run's best.pt with a random head: a loose checkpoint that gets many wrong."""
    state = torch.load(tiny_run().run_dir / "checkpoints" / "best.pt", weights_only=True)
    state = copy.deepcopy(state)
    generator = torch.Generator().manual_seed(seed)
    state["model"]["head.weight"] = torch.randn(
        state["model"]["head.weight"].shape, generator=generator
    )
    torch.save(state, path)
    return path
