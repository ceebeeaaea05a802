"""Typed, documented configuration for data, model, training and runs.

Every run is fully described by one :class:`RunConfig`, which is written to ``config.json`` in
the run directory and read back by ``--resume``, ``eval``, ``--export`` and the TUI. Nothing here
reads globals or the environment; the CLI and the TUI build these objects explicitly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError

IMAGE_SIZES = (64, 128, 256)
AUGMENT_BACKENDS = ("builtin", "albumentations", "none")
RESIZE_MODES = ("squash", "crop", "pad")
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("cosine", "onecycle", "none")
LOSSES = ("ce", "label_smoothing", "focal", "brier")
DEVICES_HELP = "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps"
SEED_MAX = 2**32 - 1
"""The largest seed every RNG takes: numpy's legacy seeding needs 0..2**32-1 (``random`` and
torch take more, so this range is the one all three share)."""


def check_seed(seed: int) -> None:
    """ConfigError unless ``seed`` is an integer every RNG we seed accepts (0..SEED_MAX)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ConfigError("seed", f"must be an integer in 0..{SEED_MAX} (2**32 - 1), got {seed!r}")


def check_data_path(data: str | None) -> None:
    """ConfigError for an empty data path, which would otherwise mean the current folder."""
    if data is not None and not data.strip():
        raise ConfigError(
            "data",
            "is empty; give an image folder or .zip, or leave it out for the built-in demo set",
        )


def check_device(device: str) -> None:
    """ConfigError unless ``device`` names one of the devices the workbench can train on."""
    if not (device in ("auto", "cpu", "cuda", "mps") or _is_cuda_index(device)):
        raise ConfigError("device", f"must be {DEVICES_HELP}; got {device!r}")


@dataclass(frozen=True)
class DataConfig:
    """Where the images come from and how they are prepared."""

    data: str | None = None
    """An image folder with one sub-folder per class, or a .zip of one; None: the demo set."""
    image_size: int = 128
    """Images are resized to image_size x image_size (64, 128 or 256)."""
    seed: int = 42
    """Seeds random, numpy and torch; fixes the split and the augmentation stream."""
    augment: str = "builtin"
    """Training augmentation: builtin (batched, on the device), albumentations, or none."""
    cache_dir: str | None = None
    """Where decoded images are cached; None: the user's cache folder."""
    demo_per_class: int = 300
    """Images per class of the built-in demo set (used only when data is None)."""
    resize: str = "squash"
    """How images become square: squash (stretch), crop (centre crop) or pad (letterbox)."""

    def validate(self) -> None:
        check_data_path(self.data)
        if self.image_size not in IMAGE_SIZES:
            raise ConfigError("image_size", f"must be one of {IMAGE_SIZES}, got {self.image_size}")
        if self.augment not in AUGMENT_BACKENDS:
            raise ConfigError("augment", f"must be one of {AUGMENT_BACKENDS}, got {self.augment!r}")
        check_seed(self.seed)
        if not 10 <= self.demo_per_class <= 5000:
            raise ConfigError("demo_per_class", f"must be in 10..5000, got {self.demo_per_class}")
        if self.resize not in RESIZE_MODES:
            raise ConfigError("resize", f"must be one of {RESIZE_MODES}, got {self.resize!r}")


@dataclass(frozen=True)
class ModelConfig:
    """The CNN: an optional stride-2 stem conv, then stages of 3x3 conv/BN/ReLU blocks (plain,
    or one residual unit per stage), each ending in a 2x2 max pool; then global average
    pooling, dropout and one linear layer.

    The default (a 32-channel stem, five residual stages of two convs, 32 to 256 channels:
    2.41 M parameters, 274 M multiply-adds per 128 px image) was chosen on the validation split
    of the course's data set, 30 epochs at 128 px each, bf16 on a 2-core CPU (about 14 s an
    epoch): best val accuracy 88.0%, against 82.3% for the earlier default (six plain stages
    of 8 to 256 channels, no stem). Three convs per stage (89.0%, 1.6x the time), a 512-channel
    last stage (88.7%), batch 32 (88.0%), squeeze-excite gates (86.3%) and SGD at lr 0.1
    (80.7%) did no better: on 300 images one standard deviation is about 1.9 points.
    """

    widths: tuple[int, ...] = (32, 64, 128, 256, 256)
    """Output channels of each stage; the number of stages is len(widths)."""
    convs_per_stage: int = 2
    """3x3 conv/BN/ReLU blocks in each stage before its max pool."""
    dropout: float = 0.2
    """Dropout before the final linear layer."""
    stem: int = 32
    """Channels of a stride-2 3x3 conv before the stages (0: none). It halves the resolution
    at once, so the stages can afford 4x the channels of a network without it."""
    residual: bool = True
    """Wrap each stage's convs in one residual unit (1x1 projection where widths change)."""
    squeeze_excite: bool = False
    """A squeeze-and-excitation gate at the end of each stage (channel weights from a sigmoid)."""

    def label(self) -> str:
        """The network in a few characters, for tables of runs: ``res s32 32-64-128-256-256 ×2``
        (kind, stem channels, stage widths, convs per stage)."""
        kind = ("res" if self.residual else "plain") + ("+se" if self.squeeze_excite else "")
        stem = f" s{self.stem}" if self.stem else ""
        return f"{kind}{stem} {'-'.join(map(str, self.widths))} ×{self.convs_per_stage}"

    def feature_side(self, image_size: int) -> int:
        """Side in pixels of the last stage's output for ``image_size`` px images: the stem's
        stride-2 conv halves it rounding up, each stage's 2x2 max pool halves it rounding down.
        Below 1 the network cannot be built for that size (``RunConfig.validate`` refuses it)."""
        side = (image_size + 1) // 2 if self.stem else image_size
        for _ in self.widths:
            side //= 2
        return side

    def max_stages(self, image_size: int) -> int:
        """The most stages ``image_size`` px images allow (see :meth:`feature_side`)."""
        side, stages = ((image_size + 1) // 2 if self.stem else image_size), 0
        while side >= 2:
            side, stages = side // 2, stages + 1
        return stages

    def validate(self) -> None:
        if not 0 <= self.stem <= 1024:
            raise ConfigError("stem", f"must be 0-1024 channels, got {self.stem}")
        if not 1 <= len(self.widths) <= 6 or any(w < 1 or w > 1024 for w in self.widths):
            raise ConfigError("widths", f"need 1-6 stages of 1-1024 channels, got {self.widths}")
        if not 1 <= self.convs_per_stage <= 4:
            raise ConfigError("convs_per_stage", f"must be 1-4, got {self.convs_per_stage}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class TrainConfig:
    """How the model is optimised."""

    epochs: int = 30
    """Passes over the training split."""
    batch_size: int = 64
    """Images per optimisation step."""
    lr: float = 3e-3
    """Peak learning rate."""
    optimizer: str = "adamw"
    """adamw, adam or sgd (with Nesterov momentum 0.9)."""
    schedule: str = "cosine"
    """cosine (with linear warm-up), onecycle or none."""
    warmup_epochs: int = 2
    """Linear warm-up epochs of the cosine schedule."""
    weight_decay: float = 0.05
    """Decoupled (AdamW) or L2 (Adam, SGD) weight decay; conv/linear weights only.

    AdamW's decay is multiplied by the learning rate; for adam or sgd use about 5e-4.
    """
    grad_clip: float = 0.0
    """Clip the global gradient norm to this value; 0 disables clipping."""
    loss: str = "ce"
    """ce, label_smoothing, focal or brier (see workbench.engine.losses)."""
    label_smoothing: float = 0.1
    """Smoothing of the label_smoothing loss."""
    focal_gamma: float = 2.0
    """Focusing parameter gamma of the focal loss."""
    early_stopping: int = 0
    """Stop after this many epochs without a lower validation loss; 0 disables it."""
    device: str = "auto"
    """auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps."""
    deterministic: bool = False
    """Ask torch for deterministic kernels (slower on CUDA)."""
    amp: bool = True
    """Mixed precision: on CUDA bf16 where supported, else fp16 with a scaler; on a CPU with
    native bf16 (AVX512-BF16, AMX) bf16 autocast, about 2x faster there."""
    num_workers: int = 2
    """DataLoader worker processes for the albumentations backend."""

    @staticmethod
    def warmup_for(epochs: int, wanted: int = warmup_epochs) -> int:
        """The warm-up ``wanted`` (the default unless given), cut to the run's length, so that a
        1-epoch run needs no warm-up option (the CLI, the TUI form and sweep grids use it)."""
        return max(0, min(wanted, epochs))

    def validate(self) -> None:
        _positive_int("epochs", self.epochs, 1, 10_000)
        _positive_int("batch_size", self.batch_size, 1, 4096)
        if not (math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise ConfigError("lr", f"must be a number in (0, 10], got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError("optimizer", f"must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError("schedule", f"must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.loss not in LOSSES:
            raise ConfigError("loss", f"must be one of {LOSSES}, got {self.loss!r}")
        _positive_int("warmup_epochs", self.warmup_epochs, 0, self.epochs)
        if not (math.isfinite(self.weight_decay) and 0 <= self.weight_decay < 1):
            raise ConfigError("weight_decay", f"must be in [0, 1), got {self.weight_decay}")
        if not (math.isfinite(self.grad_clip) and self.grad_clip >= 0):
            raise ConfigError("grad_clip", f"must be >= 0, got {self.grad_clip}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError("label_smoothing", f"must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.focal_gamma <= 10:
            raise ConfigError("focal_gamma", f"must be in [0, 10], got {self.focal_gamma}")
        _positive_int("early_stopping", self.early_stopping, 0, 10_000)
        _positive_int("num_workers", self.num_workers, 0, 64)
        check_device(self.device)


MODEL_FIELDS_BEFORE_THEY_EXISTED: dict[str, Any] = {
    "stem": 0,
    "residual": False,
    "squeeze_excite": False,
}
"""What a config.json written before these model fields existed meant by leaving them out: its
checkpoints hold a plain network, which today's defaults would no longer rebuild."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> RunConfig:
        """Raise :class:`ConfigError` on the first invalid field; return self for chaining."""
        self.data.validate()
        self.model.validate()
        self.train.validate()
        size, stages = self.data.image_size, len(self.model.widths)
        if self.model.feature_side(size) < 1:
            most = self.model.max_stages(size)
            stem = " after the stride-2 stem" if self.model.stem else ""
            raise ConfigError(
                "widths",
                f"{stages} stages{stem} halve {size} px images to nothing; "
                f"give at most {most} widths at {size} px, or a larger image size",
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Build from a dict such as config.json's; unknown keys are refused by name."""
        model_raw = dict(raw.get("model", {}))
        if "widths" in model_raw:
            model_raw["widths"] = tuple(model_raw["widths"])
            for name, value in MODEL_FIELDS_BEFORE_THEY_EXISTED.items():
                model_raw.setdefault(name, value)
        return cls(
            data=_build(DataConfig, raw.get("data", {}), "data"),
            model=_build(ModelConfig, model_raw, "model"),
            train=_build(TrainConfig, raw.get("train", {}), "train"),
        )


def _build(kind: type[Any], raw: dict[str, Any], section: str) -> Any:
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(section, f"unknown field(s) {', '.join(unknown)}")
    return kind(**raw)


def _positive_int(name: str, value: int, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(name, f"must be an integer in {lo}..{hi}, got {value!r}")


def _is_cuda_index(device: str) -> bool:
    prefix, _, index = device.partition(":")
    return prefix == "cuda" and index.isdigit()
