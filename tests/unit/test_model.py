from __future__ import annotations

import pytest
import torch

from workbench.config import ModelConfig
from workbench.engine.model import build_model, summarize

TINY = ModelConfig(widths=(4, 8, 8), convs_per_stage=1, dropout=0.1)


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("classes", [2, 3, 7])
def test_logits_and_probabilities_have_the_right_shape(size: int, classes: int) -> None:
    model = build_model(TINY, classes).eval()
    x = torch.randn(2, 3, size, size)
    assert model(x).shape == (2, classes)
    probs = model.predict_proba(x)
    assert probs.shape == (2, classes)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(2))
    assert (probs >= 0).all()


def test_default_model_works_at_every_size() -> None:
    model = build_model(ModelConfig(), 3).eval()
    for size in (64, 128, 256):
        assert model(torch.zeros(1, 3, size, size)).shape == (1, 3)


PLAIN = {"stem": 0, "residual": False}


def test_structure_is_conv_bn_relu_maxpool_stages() -> None:
    model = build_model(ModelConfig(widths=(4, 8), convs_per_stage=2, **PLAIN), 3)
    kinds = [type(m).__name__ for m in model.features.modules() if not list(m.children())]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU"] * 2 + ["MaxPool2d"] + [
        "Conv2d",
        "BatchNorm2d",
        "ReLU",
    ] * 2 + ["MaxPool2d"]
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in model.modules())


def test_summary_counts_parameters_shapes_and_mult_adds() -> None:
    model = build_model(ModelConfig(widths=(4,), convs_per_stage=1, dropout=0.0, **PLAIN), 2)
    summary = summarize(model, 64)
    assert summary.total_params == sum(p.numel() for p in model.parameters())
    by_kind = {layer.kind: layer for layer in summary.layers}
    assert by_kind["Conv2d"].output_shape == (4, 64, 64)
    assert by_kind["MaxPool2d"].output_shape == (4, 32, 32)
    assert by_kind["Linear"].output_shape == (2,)
    # conv: 64*64 outputs x 4 channels x (3*3*3) taps; linear: 4 x 2
    assert summary.mult_adds == 64 * 64 * 4 * 27 + 4 * 2
    assert summary.num_classes == 2
    assert summary.to_dict()["layers"][0]["name"] == "features.0.0.0"
    assert model.training  # summarize restores the mode


def test_invalid_class_count_is_refused() -> None:
    with pytest.raises(ValueError):
        build_model(TINY, 0)


@pytest.mark.parametrize("size", [64, 128, 256])
def test_stem_and_residual_stages_work_at_every_size(size: int) -> None:
    config = ModelConfig(widths=(8, 16, 16, 32), convs_per_stage=2, stem=8, residual=True)
    model = build_model(config, 3).eval()
    assert model(torch.zeros(2, 3, size, size)).shape == (2, 3)
    summary = summarize(model, size)
    # stride-2 stem, then one max pool per stage: size / 2 / 2**4
    assert summary.layers[-4].output_shape == (32, size // 32, size // 32)


def test_stem_halves_the_resolution_before_the_stages() -> None:
    model = build_model(ModelConfig(widths=(4,), convs_per_stage=1, stem=6, residual=False), 2)
    layers = summarize(model, 64).layers
    assert (layers[0].kind, layers[0].output_shape) == ("Conv2d", (6, 32, 32))
    assert layers[3].output_shape == (4, 32, 32)  # the first stage's conv, still at 32 px


@pytest.mark.parametrize("convs", [1, 2, 3])
def test_residual_unit_with_a_silent_body_passes_its_input_through(convs: int) -> None:
    from workbench.engine.model import ResidualUnit

    unit = ResidualUnit(5, 5, convs).eval()
    last_bn = [m for m in unit.body.modules() if isinstance(m, torch.nn.BatchNorm2d)][-1]
    torch.nn.init.zeros_(last_bn.weight)  # the body now outputs zeros (bias is 0 too)
    x = torch.randn(2, 5, 8, 8)
    assert isinstance(unit.shortcut, torch.nn.Identity)
    torch.testing.assert_close(unit(x), torch.relu(x))


def test_residual_unit_projects_when_the_width_changes() -> None:
    from workbench.engine.model import ResidualUnit

    unit = ResidualUnit(4, 8, 2)
    assert isinstance(unit.shortcut[0], torch.nn.Conv2d)
    assert unit(torch.randn(1, 4, 6, 6)).shape == (1, 8, 6, 6)
    plain = build_model(ModelConfig(widths=(4, 8), convs_per_stage=2, **PLAIN), 3)
    residual = build_model(ModelConfig(widths=(4, 8), convs_per_stage=2, stem=0, residual=True), 3)
    conv_count = sum(isinstance(m, torch.nn.Conv2d) for m in residual.modules())
    assert conv_count == sum(isinstance(m, torch.nn.Conv2d) for m in plain.modules()) + 2


def test_squeeze_excite_rescales_each_channel_by_its_gate() -> None:
    from workbench.engine.model import SqueezeExcite

    torch.manual_seed(1)
    se = SqueezeExcite(8)
    x = torch.randn(2, 8, 5, 5)
    # By hand: mean over the map, two dense layers (the 1x1 convs' weights), sigmoid.
    pooled = x.mean(dim=(2, 3))
    w1, b1 = se.squeeze.weight.flatten(1), se.squeeze.bias
    w2, b2 = se.excite.weight.flatten(1), se.excite.bias
    gate = torch.sigmoid(torch.relu(pooled @ w1.T + b1) @ w2.T + b2)
    torch.testing.assert_close(se(x), x * gate[:, :, None, None])
    assert ((gate > 0) & (gate < 1)).all()


def test_squeeze_excite_is_one_gate_per_stage() -> None:
    config = ModelConfig(widths=(4, 8, 8), convs_per_stage=2, squeeze_excite=True, **PLAIN)
    model = build_model(config, 3)
    gates = [m for m in model.modules() if isinstance(m, torch.nn.Sigmoid)]
    assert len(gates) == 3
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)
