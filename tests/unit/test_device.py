"""setup_device: channels-last, and bf16 autocast only where the hardware computes bf16 (CPU with
AVX512-BF16/AMX; GPU with compute capability 8.0+), else fp16 with a GradScaler on CUDA."""

from __future__ import annotations

import pytest
import torch

from workbench.config import ModelConfig
from workbench.engine import device as device_module
from workbench.engine.device import setup_device
from workbench.engine.model import build_model


@pytest.mark.parametrize("native", [True, False])
def test_cpu_uses_bf16_only_with_native_support(
    monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: native)
    setup = setup_device("cpu")
    assert setup.amp_dtype is (torch.bfloat16 if native else None)
    assert ("bf16" if native else "fp32") in setup.describe()
    assert setup.channels_last == torch.backends.mkldnn.is_available()
    assert not setup.uses_scaler  # bf16 needs no loss scaling
    no_amp = setup_device("cpu", amp=False)
    assert no_amp.amp_dtype is None and "fp32" in no_amp.describe()


@pytest.mark.parametrize(
    ("capability", "expected"), [((7, 5), torch.float16), ((8, 0), torch.bfloat16)]
)
def test_cuda_uses_bf16_only_on_gpus_with_bf16_tensor_cores(
    monkeypatch: pytest.MonkeyPatch, capability: tuple[int, int], expected: torch.dtype
) -> None:
    """A T4 (7.5) gets fp16 and a scaler, although torch.cuda.is_bf16_supported() says True
    there (emulated bf16); an A100 (8.0) gets bf16. The GPU is simulated; the global cuDNN and
    TF32 switches setup_device turns are restored afterwards."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.version, "hip", None)
    for module, name in [
        (torch.backends.cudnn, "benchmark"),
        (torch.backends.cudnn, "allow_tf32"),
        (torch.backends.cuda.matmul, "allow_tf32"),
    ]:
        monkeypatch.setattr(module, name, getattr(module, name))
    setup = setup_device("cuda")
    assert setup.device.type == "cuda" and setup.channels_last
    assert setup.amp_dtype is expected
    assert setup.uses_scaler == (expected is torch.float16)
    assert setup_device("cuda", amp=False).amp_dtype is None


def test_bf16_autocast_keeps_float32_weights_and_gradients_and_close_outputs() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(widths=(8, 16), convs_per_stage=1, stem=8, residual=True), 3)
    model = model.to(memory_format=torch.channels_last).eval()
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    reference = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
    assert logits.dtype == torch.bfloat16
    # bf16 keeps 8 bits of mantissa: about 2-3 significant digits through two convs.
    torch.testing.assert_close(logits.float(), reference, rtol=0.05, atol=0.05)
    logits.float().sum().backward()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())
