from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.engine.gradcam import grad_cam, last_conv_layer


def _tiny_cnn(classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, classes),
    )


def test_map_has_the_input_size_and_is_normalised() -> None:
    model = _tiny_cnn()
    images = torch.randn(2, 3, 32, 24)
    cams = grad_cam(model, images, [0, 2])
    assert cams.shape == (2, 32, 24)
    assert float(cams.min()) >= 0.0
    assert float(cams.max()) <= 1.0 + 1e-6


def test_map_changes_with_the_target_class() -> None:
    model = _tiny_cnn()
    image = torch.randn(1, 3, 32, 32)
    maps = [grad_cam(model, image, [target])[0] for target in range(3)]
    assert not torch.allclose(maps[0], maps[1])
    assert not torch.allclose(maps[1], maps[2])


def test_matches_a_hand_computation_from_autograd() -> None:
    """Independent oracle: split the model at the layer and differentiate by hand."""
    model = _tiny_cnn().eval()
    head, tail = model[:5], model[5:]
    image = torch.randn(1, 3, 16, 16)
    activation = head(image).detach().requires_grad_(True)
    tail(activation)[0, 1].backward()
    assert activation.grad is not None
    weights = activation.grad.mean(dim=(2, 3), keepdim=True)
    expected = torch.relu((weights * activation).sum(1, keepdim=True)).detach()
    expected = nn.functional.interpolate(expected, size=(16, 16), mode="bilinear")[:, 0]
    expected = expected / expected.max().clamp_min(1e-12)
    assert torch.allclose(grad_cam(model, image, [1]), expected, atol=1e-5)


def test_keeps_training_mode_and_parameter_grads() -> None:
    model = _tiny_cnn().train()
    grad_cam(model, torch.randn(1, 3, 16, 16), [0])
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_refuses_models_without_convolutions() -> None:
    with pytest.raises(ValueError, match="Conv2d"):
        last_conv_layer(nn.Linear(2, 2))


@pytest.mark.parametrize(
    ("stem", "residual", "squeeze_excite"),
    [(0, False, False), (4, True, False), (4, True, True), (0, False, True)],
)
def test_classifier_maps_come_from_its_last_spatial_stage(
    stem: int, residual: bool, squeeze_excite: bool
) -> None:
    """For every architecture the layer is the last stage's output before its pool: never a
    shortcut projection or a gate's 1x1 conv on a 1x1 map (whose map would be flat)."""
    from workbench.config import ModelConfig
    from workbench.engine.gradcam import cam_layer
    from workbench.engine.model import build_model

    config = ModelConfig(
        widths=(4, 8), convs_per_stage=2, stem=stem, residual=residual,
        squeeze_excite=squeeze_excite,
    )  # fmt: skip
    torch.manual_seed(0)
    model = build_model(config, 3).eval()
    layer = cam_layer(model)
    seen: list[tuple[int, ...]] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape)))
    model(torch.randn(1, 3, 32, 32))
    handle.remove()
    side = 32 // (2 if stem else 1) // 2  # the last stage works at this size before its pool
    assert seen == [(1, 8, side, side)]
    image = torch.randn(1, 3, 32, 32)
    cam = grad_cam(model, image, [1])
    assert cam.shape == (1, 32, 32) and float(cam.max()) > float(cam.min())
