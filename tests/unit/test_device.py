"""setup_device on the CPU: channels-last, and bf16 autocast only where the CPU has it."""

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
