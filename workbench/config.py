"""Typed, documented configuration for data, model, training and runs.

Every run is fully described by one :class:`RunConfig`, which is written to ``config.json`` in
the run directory and read back by ``--resume``, ``eval``, ``--export`` and the TUI. Nothing here
reads globals or the environment; the CLI and the TUI build these objects explicitly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError

IMAGE_SIZES = (64, 128, 256)
AUGMENT_BACKENDS = ("builtin", "albumentations", "none")
RESIZE_MODES = ("squash", "crop", "pad")
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("cosine", "onecycle", "none")
LOSSES = ("ce", "label_smoothing", "focal", "brier")
MAX_PROCESSES = 64
"""The most training processes per machine, and machines, a run (or ``bench``) takes."""
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


def check_endpoint(endpoint: str) -> None:
    """ConfigError unless ``endpoint`` is ``HOST:PORT`` with a port in 1..65535."""
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(
            "rdzv_endpoint", f"must be HOST:PORT (a port in 1..65535), got {endpoint!r}"
        )


# ------------------------------------------------------------------------------ the option table
# Each field of the sections below is declared once, with how users set it: ``option(...)`` (its
# help, whether a sweep grid may vary it, its place on the TUI's Train form) or ``internal(...)``
# (not offered; why). The CLI options of ``train``/``sweep``/``split``, the sweep's grid names,
# the Train form and the TUI's launcher are derived from it (:func:`offered_fields`).

OPTION = "workbench.option"
"""The key of a field's :class:`Option` in its dataclass metadata."""
INTERNAL = "workbench.internal"
"""The key under which a field that no surface offers says why."""


@dataclass(frozen=True)
class Form:
    """A field's place on the TUI's Train form."""

    order: int
    """Fields are shown by this number, smallest first."""
    label: str = ""
    """The short label (default: the field's name)."""


@dataclass(frozen=True)
class Option:
    """How users set one config field: the CLI option, the sweep grid, the Train form."""

    help: str
    """The CLI help, without the default (added from the field's default)."""
    choices: tuple[Any, ...] | None = None
    """The only values allowed (a choice list on the CLI, a Select on the form)."""
    metavar: str | None = None
    """The CLI's name for the value (default: argparse's)."""
    shown_default: str | None = None
    """How the help shows the default when the value alone says too little; ``{}`` is the
    value."""
    pair: bool = False
    """A boolean offered as ``--x/--no-x``; otherwise one flag that flips the default
    (``--x`` when it is off, ``--no-x`` when it is on)."""
    sweep: bool = False
    """A sweep grid may vary it (``NAME=V1,V2`` with NAME its option without ``--``)."""
    form: Form | None = None
    """Its place on the Train form; None: not on the form."""
    resumed: bool = False
    """``train --resume`` takes it from the command line when given (the rest of a resumed run
    comes from its own config.json): where the data is and how fast it trains."""
    launch: bool = False
    """How many processes train a run and where they meet (torchrun's options): ``train``
    offers it; a sweep, whose runs are one process each, does not."""


def option(default: Any, help: str, **how: Any) -> Any:
    """A dataclass field offered to users (keywords: those of :class:`Option`)."""
    return field(default=default, metadata={OPTION: Option(help, **how)})


def internal(default: Any, why: str) -> Any:
    """A dataclass field that no command-line option, grid or form sets, and why."""
    return field(default=default, metadata={INTERNAL: why})


@dataclass(frozen=True)
class Kind:
    """How the text a user types becomes a field's value, by the field's annotation."""

    parse: Callable[[str], Any]
    """text -> value; ValueError when it is not one."""
    what: str
    """What a value looks like, for "is not ..." messages."""


def on_off(text: str) -> bool:
    """A yes/no value typed as text: on/off, true/false, yes/no or 1/0."""
    words = {"on": True, "true": True, "yes": True, "1": True}
    words |= {"off": False, "false": False, "no": False, "0": False}
    try:
        return words[text.strip().lower()]
    except KeyError:
        raise ValueError(text) from None


def int_list(text: str) -> tuple[int, ...]:
    """``"16,32,64"`` -> (16, 32, 64); ValueError when a part is not an integer."""
    return tuple(int(part) for part in text.replace(" ", "").split(",") if part)


KINDS: dict[str, Kind] = {
    "int": Kind(int, "an integer"),
    "float": Kind(float, "a number"),
    "str": Kind(str, "text"),
    "str | None": Kind(str, "text"),
    "bool": Kind(on_off, "on or off"),
    "tuple[int, ...]": Kind(int_list, "integers like 16,32,64"),
}
"""Every annotation an offered field may have (a test checks the table against it)."""


@dataclass(frozen=True)
class OfferedField:
    """One row of the option table: a config field and how users set it."""

    section: str
    """The RunConfig section (``data``, ``model`` or ``train``)."""
    name: str
    """The field's name, also what a ConfigError about it names."""
    annotation: str
    default: Any
    option: Option

    @property
    def kind(self) -> Kind:
        return KINDS[self.annotation]

    @property
    def spelled(self) -> str:
        """The name as users type it: its CLI option without ``--`` and its grid name."""
        return self.name.replace("_", "-")

    @property
    def flag(self) -> str:
        """The CLI option: ``--batch-size``; a flag that turns a default on off: ``--no-amp``."""
        flips_on = self.annotation == "bool" and not self.option.pair and self.default
        return f"--no-{self.spelled}" if flips_on else f"--{self.spelled}"

    def text(self, value: Any) -> str:
        """``value`` as a user types it (widths as 16,32,64, booleans as on/off)."""
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, tuple):
            return ",".join(map(str, value))
        return str(value)

    def parse(self, text: str) -> Any:
        """The value that ``text`` spells; ValueError saying what was expected."""
        try:
            return self.kind.parse(text.strip())
        except ValueError:
            raise ValueError(f"{text!r} is not {self.kind.what}") from None


@dataclass(frozen=True)
class DataConfig:
    """Where the images come from and how they are prepared."""

    data: str | None = option(
        None,
        "image folder with one sub-folder per class, or a .zip of one",
        metavar="DIR|ZIP",
        shown_default="the built-in demo set",
        resumed=True,
    )
    """An image folder with one sub-folder per class, or a .zip of one; None: the demo set."""
    image_size: int = option(
        128,
        "images are resized to SIZE x SIZE",
        choices=IMAGE_SIZES,
        sweep=True,
        form=Form(0, "size"),
    )
    """Images are resized to image_size x image_size (64, 128 or 256)."""
    seed: int = option(42, "seed of random, numpy and torch", sweep=True, form=Form(8))
    """Seeds random, numpy and torch; fixes the split and the augmentation stream."""
    augment: str = option(
        "builtin",
        "training augmentation backend",
        choices=AUGMENT_BACKENDS,
        sweep=True,
        form=Form(7),
    )
    """Training augmentation: builtin (batched, on the device), albumentations, or none."""
    cache_dir: str | None = option(
        None,
        "where decoded images are cached",
        metavar="DIR",
        shown_default="the user's cache folder",
        resumed=True,
    )
    """Where decoded images are cached; None: the user's cache folder."""
    demo_per_class: int = internal(300, "the demo set's size is the Data screen's and split's")
    """Images per class of the built-in demo set (used only when data is None)."""
    resize: str = option(
        "squash",
        "how images become square: stretch, centre crop or letterbox",
        choices=RESIZE_MODES,
        sweep=True,
    )
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

    widths: tuple[int, ...] = option(
        (32, 64, 128, 256, 256), "channels of each stage", metavar="C1,C2,...", form=Form(10)
    )
    """Output channels of each stage; the number of stages is len(widths)."""
    convs_per_stage: int = option(2, "conv blocks per stage", sweep=True, form=Form(11, "convs"))
    """3x3 conv/BN/ReLU blocks in each stage before its max pool."""
    dropout: float = option(0.2, "dropout before the head", sweep=True, form=Form(15))
    """Dropout before the final linear layer."""
    stem: int = option(
        32, "channels of a stride-2 3x3 conv first (0: none)", sweep=True, form=Form(12)
    )
    """Channels of a stride-2 3x3 conv before the stages (0: none). It halves the resolution
    at once, so the stages can afford 4x the channels of a network without it."""
    residual: bool = option(
        True,
        "each stage's convs as one residual unit (skip connection)",
        pair=True,
        sweep=True,
        form=Form(13),
    )
    """Wrap each stage's convs in one residual unit (1x1 projection where widths change)."""
    squeeze_excite: bool = option(
        False,
        "a squeeze-and-excitation channel gate after each stage's convs",
        pair=True,
        sweep=True,
        form=Form(14, "SE gate"),
    )
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
    """How the model is optimised.

    The default recipe (60 epochs; mixup 0.2 and CutMix 1.0, each on half the batches; BatchNorm
    statistics recomputed on 512 clean training images before each validation) was chosen on
    the validation split of the course's data set with seeds 42 and 1: best val accuracy 90.7%
    and 92.0%, against 87.7% and 87.7% for the earlier default (30 epochs, no mixing). On the
    way, also with both seeds: 50 epochs with mixup 0.2 (89.0%, 91.0%), 60 with mixup and
    CutMix (90.7%, 91.0%), the same with an EMA of the weights (decay 0.995: 89.0%, 89.7%) and an
    EMA alone at 30 epochs (84.7%, 88.3%). The recomputed statistics raised val accuracy at
    nearly every epoch of the same training (+2.0 and +2.6 points on average over 60 epochs).
    Test accuracy of the default: 89.3% and 89.8% (earlier default: 86.7%, 86.8%), in about
    12 minutes a run on a 2-core CPU; with 90 epochs (about 18 minutes) best val 93.0% and 94.3%,
    test 90.2% and 92.5%.
    """

    epochs: int = option(60, "passes over the train split", sweep=True, form=Form(1))
    """Passes over the training split."""
    batch_size: int = option(
        64,
        "images per step, in all (with N processes each takes 1/N of them, so --lr keeps its "
        "meaning whatever N)",
        sweep=True,
        form=Form(2, "batch"),
    )
    """Images per optimisation step, in all: the global batch. Under torch.distributed each of
    the N processes trains on its N-th of every batch and the gradients are averaged, so a step
    is the step one process would take on the whole batch and the learning rate means the same
    for any N."""
    lr: float = option(3e-3, "peak learning rate", sweep=True, form=Form(3))
    """Peak learning rate."""
    optimizer: str = option("adamw", "optimizer", choices=OPTIMIZERS, sweep=True, form=Form(4))
    """adamw, adam or sgd (with Nesterov momentum 0.9)."""
    schedule: str = option(
        "cosine", "lr schedule, stepped per batch", choices=SCHEDULES, sweep=True, form=Form(5)
    )
    """cosine (with linear warm-up), onecycle or none."""
    warmup_epochs: int = option(
        2, "cosine warm-up epochs", shown_default="{}, at most --epochs", sweep=True
    )
    """Linear warm-up epochs of the cosine schedule."""
    weight_decay: float = option(0.05, "weight decay", sweep=True)
    """Decoupled (AdamW) or L2 (Adam, SGD) weight decay; conv/linear weights only.

    AdamW's decay is multiplied by the learning rate; for adam or sgd use about 5e-4.
    """
    grad_clip: float = option(0.0, "max gradient norm (0: off)", sweep=True)
    """Clip the global gradient norm to this value; 0 disables clipping."""
    loss: str = option("ce", "loss function", choices=LOSSES, sweep=True, form=Form(6))
    """ce, label_smoothing, focal or brier (see workbench.engine.losses)."""
    label_smoothing: float = option(0.1, "ε of label_smoothing", sweep=True)
    """Smoothing of the label_smoothing loss."""
    focal_gamma: float = option(2.0, "γ of focal", sweep=True)
    """Focusing parameter gamma of the focal loss."""
    early_stopping: int = option(
        0, "stop after this many epochs without a lower val loss (0: off)", metavar="EPOCHS"
    )
    """Stop after this many epochs without a lower validation loss; 0 disables it."""
    device: str = option("auto", DEVICES_HELP, resumed=True, form=Form(9))
    """auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps."""
    deterministic: bool = option(False, "deterministic kernels (slower on CUDA)")
    """Ask torch for deterministic kernels (slower on CUDA)."""
    amp: bool = option(
        True, "float32 throughout (no bf16/fp16 autocast on CUDA or bf16 on a capable CPU)"
    )
    """Mixed precision: on CUDA bf16 where supported, else fp16 with a scaler; on a CPU with
    native bf16 (AVX512-BF16, AMX) bf16 autocast, about 2x faster there."""
    num_workers: int = option(2, "loader worker processes, albumentations backend", resumed=True)
    """DataLoader worker processes for the albumentations backend."""
    ema: float = option(
        0.0,
        "decay of an average of the weights that is validated and saved as best.pt (0: off)",
        metavar="DECAY",
        sweep=True,
        form=Form(16),
    )
    """Decay of an exponential moving average of the weights, updated after every step (0: off;
    e.g. 0.999); when on, validation, the best epoch and best.pt use the averaged weights (see
    workbench.engine.ema)."""
    mixup: float = option(
        0.2,
        "α of mixup: each batch blended with a shuffle of itself, λ ~ Beta(α, α) (0: off)",
        metavar="ALPHA",
        sweep=True,
        form=Form(17),
    )
    """α of mixup (0: off; e.g. 0.2): every training batch and its targets become
    λ·x + (1-λ)·x[perm] with λ ~ Beta(α, α) (see workbench.engine.mixup)."""
    cutmix: float = option(
        1.0,
        "α of CutMix: a box of a shuffled image pasted in (0: off; with --mixup, half the batches)",
        metavar="ALPHA",
        sweep=True,
        form=Form(18),
    )
    """α of CutMix (0: off; e.g. 1.0): a box of another image of the batch is pasted in and the
    targets mixed by area; with mixup also on, each batch uses one of the two."""
    precise_bn: int = option(
        512,
        "un-augmented train images whose forward pass recomputes BatchNorm's statistics before "
        "each validation (0: off)",
        metavar="IMAGES",
        sweep=True,
        form=Form(19, "BN images"),
    )
    """Images (rounded up to whole batches) of a fixed seeded subset of the train split whose
    forward pass recomputes every BatchNorm layer's running statistics before each validation
    (0: off): the statistics of clean photos instead of those of the last augmented, mixed
    batches (see workbench.engine.precise_bn)."""
    nproc_per_node: int = option(
        1,
        "training processes on this machine; above 1 the run is relaunched under torchrun "
        "(DistributedDataParallel: NCCL, one GPU each, on CUDA; gloo on the CPU)",
        resumed=True,
        launch=True,
        form=Form(20, "procs"),
    )
    """Processes on this machine (``torchrun --nproc-per-node``). The world size, the number
    of processes in all, is ``nproc_per_node * nnodes``; a resumed run keeps its own."""
    nnodes: int = option(
        1,
        "machines taking part (give each the same options and its own --node-rank)",
        resumed=True,
        launch=True,
    )
    """Machines taking part (``torchrun --nnodes``)."""
    node_rank: int = option(
        0,
        "this machine's number, 0..nnodes-1 (machine 0 writes the run)",
        resumed=True,
        launch=True,
    )
    """This machine's number (``torchrun --node-rank``); machine 0 holds the run directory."""
    rdzv_endpoint: str | None = option(
        None,
        "where the processes meet: machine 0's address and a free port",
        metavar="HOST:PORT",
        shown_default="127.0.0.1 and a free port; needed with --nnodes above 1",
        resumed=True,
        launch=True,
    )
    """Machine 0's ``HOST:PORT`` (``torchrun --rdzv-endpoint``, static rendezvous)."""
    sync_batchnorm: bool = option(
        True,
        "SyncBatchNorm across processes on CUDA; on the CPU torch cannot, and each process "
        "normalises its own share of the batch (running statistics: process 0's)",
        pair=True,
    )
    """Under DDP on CUDA, BatchNorm layers become SyncBatchNorm (statistics of the whole
    batch). torch's SyncBatchNorm works only on GPU modules, so on the CPU each process's
    BatchNorm normalises its share of the batch, and DDP copies process 0's running statistics
    to the others at every step."""

    @property
    def world_size(self) -> int:
        """Processes in all: the batch is split among them."""
        return self.nproc_per_node * self.nnodes

    @staticmethod
    def warmup_for(epochs: int, wanted: int | None = None) -> int:
        """The warm-up ``wanted`` (the default unless given), cut to the run's length, so that a
        1-epoch run needs no warm-up option (:func:`with_values` applies it for every surface)."""
        return max(0, min(TrainConfig.warmup_epochs if wanted is None else wanted, epochs))

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
        if not (math.isfinite(self.ema) and 0 <= self.ema < 1):
            raise ConfigError("ema", f"must be in [0, 1), got {self.ema}")
        _positive_int("precise_bn", self.precise_bn, 0, 1_000_000)
        for name, alpha in (("mixup", self.mixup), ("cutmix", self.cutmix)):
            if not (math.isfinite(alpha) and alpha >= 0):
                raise ConfigError(name, f"must be >= 0, got {alpha}")
        check_device(self.device)
        self._validate_distributed()

    def _validate_distributed(self) -> None:
        _positive_int("nproc_per_node", self.nproc_per_node, 1, MAX_PROCESSES)
        _positive_int("nnodes", self.nnodes, 1, MAX_PROCESSES)
        _positive_int("node_rank", self.node_rank, 0, self.nnodes - 1)
        if self.rdzv_endpoint is not None:
            check_endpoint(self.rdzv_endpoint)
        elif self.nnodes > 1:
            raise ConfigError(
                "rdzv_endpoint", "is needed with nnodes above 1: machine 0's HOST:PORT"
            )
        if self.world_size > 1 and _is_cuda_index(self.device):
            raise ConfigError(
                "device",
                f"{self.device} names one GPU, but each of several processes takes its own; "
                "give auto or cuda",
            )
        if self.batch_size < self.world_size:
            raise ConfigError(
                "batch_size",
                f"{self.batch_size} images cannot be shared by {self.world_size} processes; "
                f"give at least {self.world_size}",
            )


MODEL_FIELDS_BEFORE_THEY_EXISTED: dict[str, Any] = {
    "stem": 0,
    "residual": False,
    "squeeze_excite": False,
}
"""What a config.json written before these model fields existed meant by leaving them out: its
checkpoints hold a plain network, which today's defaults would no longer rebuild."""

TRAIN_FIELDS_BEFORE_THEY_EXISTED: dict[str, Any] = {
    "ema": 0.0,
    "mixup": 0.0,
    "cutmix": 0.0,
    "precise_bn": 0,
}
"""What a saved train section written before these fields existed meant by leaving them out: it
trained without them, which today's defaults would no longer say (a resumed run would change its
recipe, and the notebook would describe one it never had). A saved section is told from a
hand-written one by ``amp``, which every config.json has held since the first version."""


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
        train_raw = dict(raw.get("train", {}))
        if "amp" in train_raw:
            for name, value in TRAIN_FIELDS_BEFORE_THEY_EXISTED.items():
                train_raw.setdefault(name, value)
        sections = {name: raw.get(name, {}) for name in SECTIONS}
        sections |= {"model": model_raw, "train": train_raw}
        return cls(**{name: _build(kind, sections[name], name) for name, kind in SECTIONS.items()})


SECTIONS: dict[str, type[Any]] = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
"""RunConfig's sections and their classes. Everything that walks the option table, builds a
config from named values or reads one from JSON looks the classes up here, so a section
extended with a field (a subclass put in its place) reaches every surface at once."""


def offered_fields() -> list[OfferedField]:
    """The option table: every field a user can set, section by section in declaration order."""
    return [
        OfferedField(section, f.name, str(f.type), f.default, f.metadata[OPTION])
        for section, kind in SECTIONS.items()
        for f in dataclasses.fields(kind)
        if OPTION in f.metadata
    ]


def offered_field(name: str) -> OfferedField | None:
    """The option-table row of field ``name``; None for an internal field (or no field)."""
    return next((f for f in offered_fields() if f.name == name), None)


def option_name(field_name: str) -> str:
    """What a user typed to set ``field_name``: its CLI option, else the field's own name."""
    offered = offered_field(field_name)
    return offered.flag if offered is not None else field_name


def with_values(base: RunConfig | None, values: Mapping[str, Any]) -> RunConfig:
    """``base`` (None: the defaults) with the fields named in ``values`` set; not validated.

    The warm-up follows the run's length unless it is set too (:meth:`TrainConfig.warmup_for`),
    so that ``--epochs 1``, a form's epochs of 1 and a grid's ``epochs=1`` all just work."""
    section_of = {f.name: s for s, kind in SECTIONS.items() for f in dataclasses.fields(kind)}
    changes: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for name, value in values.items():
        changes[section_of[name]][name] = value
    train = changes["train"]
    if "epochs" in train and "warmup_epochs" not in train:
        wanted = base.train.warmup_epochs if base is not None else None
        train["warmup_epochs"] = TrainConfig.warmup_for(train["epochs"], wanted)
    if base is None:
        return RunConfig(**{s: kind(**changes[s]) for s, kind in SECTIONS.items()})
    return RunConfig(**{s: dataclasses.replace(getattr(base, s), **changes[s]) for s in SECTIONS})


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
