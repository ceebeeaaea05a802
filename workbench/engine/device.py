"""Choosing the device and its precision: CUDA, then MPS, then CPU; AMP and determinism.

Everything device-specific in training goes through :class:`DeviceSetup`, so the loop has no
``if cuda`` branches of its own and the CPU path (where the tests run) exercises the same code.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch

from workbench.config import check_device
from workbench.errors import ConfigError

CUBLAS_WORKSPACE = ":4096:8"
"""The cuBLAS workspace setting that makes CUDA matrix products deterministic."""


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA, then MPS, then CPU; an explicit name must be one the workbench trains
    on (:func:`workbench.config.check_device`) and be available here (else ConfigError)."""
    check_device(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("device", f"{name} asked for, but CUDA is not available here")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise ConfigError("device", f"{name} asked for, but only {count} CUDA device(s)")
        return device
    if name == "mps" and not _mps_available():
        raise ConfigError("device", "mps asked for, but MPS is not available here")
    try:
        return torch.device(name)
    except RuntimeError as error:  # e.g. an index beyond what torch can hold
        raise ConfigError("device", f"{name!r} is not a device torch knows ({error})") from None


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


@dataclass(frozen=True)
class DeviceSetup:
    """The device and how to compute on it."""

    device: torch.device
    amp_dtype: torch.dtype | None
    """bfloat16 or float16 under autocast (CUDA; bf16 on a CPU that has it); None: float32."""
    channels_last: bool
    """Keep images and conv weights in NHWC (tensor cores; oneDNN's fast CPU kernels)."""

    @property
    def uses_scaler(self) -> bool:
        """fp16 needs a GradScaler against underflowing gradients; bf16 does not."""
        return self.amp_dtype is torch.float16

    def memory_gb(self) -> tuple[float, float] | tuple[None, None]:
        """(peak memory reserved by this process, total memory) in GiB on CUDA; else Nones."""
        if self.device.type != "cuda":
            return None, None
        total = torch.cuda.get_device_properties(self.device).total_memory
        return torch.cuda.max_memory_reserved(self.device) / 2**30, total / 2**30

    def autocast(self) -> AbstractContextManager[object]:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def make_scaler(self) -> torch.amp.GradScaler:
        """A GradScaler that is a no-op unless fp16 needs it (its state is always saveable)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.uses_scaler)

    def describe(self) -> str:
        """E.g. ``cuda:0 NVIDIA H200 bf16`` or ``cpu fp32 (2 threads)``."""
        precision = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.amp_dtype, "fp32")  # type: ignore[arg-type]
        if self.device.type == "cuda":
            index = self.device.index if self.device.index is not None else 0
            name = torch.cuda.get_device_name(index)
            return f"cuda:{index} {name} {precision}"
        if self.device.type == "cpu":
            return f"cpu {precision} ({torch.get_num_threads()} threads)"
        return f"{self.device.type} {precision}"


def setup_device(name: str, *, amp: bool = True, deterministic: bool = False) -> DeviceSetup:
    """Resolve ``name`` and choose precision, memory format and kernel settings for it."""
    device = resolve_device(name)
    amp_dtype: torch.dtype | None = None
    channels_last = False
    if device.type == "cpu":
        # benchmarks/cpu_precision.py on a 2-core Zen 4 (default model, 128 px, batch 64):
        # NCHW fp32 63.7 img/s, NHWC fp32 86.5, NHWC bf16 188.6 (2.96x).
        channels_last = torch.backends.mkldnn.is_available()
        if amp and cpu_has_native_bf16():
            amp_dtype = torch.bfloat16
    if device.type == "cuda":
        channels_last = True
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cuda.matmul.allow_tf32 = not deterministic
        torch.backends.cudnn.allow_tf32 = not deterministic
        if amp:
            amp_dtype = torch.bfloat16 if cuda_has_native_bf16(device) else torch.float16
    if deterministic:
        set_deterministic()
    return DeviceSetup(device=device, amp_dtype=amp_dtype, channels_last=channels_last)


def cpu_has_native_bf16() -> bool:
    """True where the CPU computes bf16 in hardware (AVX512-BF16 or AMX).

    Elsewhere oneDNN emulates bf16, which is slower than float32, so autocast stays off.
    """
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # pragma: no cover - an older torch without the probes
        return False


def cuda_has_native_bf16(device: torch.device) -> bool:
    """True on GPUs with bf16 tensor cores (Ampere, compute capability 8.0, and later; ROCm).

    ``torch.cuda.is_bf16_supported()`` also says True on a T4 or V100, where bf16 is emulated
    and far slower than fp16 with a GradScaler; it also asks about the current device, which
    need not be ``device``.
    """
    if torch.version.hip:
        return True
    major, _minor = torch.cuda.get_device_capability(device)
    return major >= 8


def set_deterministic() -> None:
    """Deterministic kernels everywhere (cuBLAS needs its workspace variable set first)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def default_cpu_threads() -> int:
    """Threads for CPU training: every core this process may use (at least one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)
