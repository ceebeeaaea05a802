from __future__ import annotations

import json

import pytest

from workbench.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from workbench.errors import ConfigError


def test_defaults_are_valid_and_round_trip_through_json() -> None:
    config = RunConfig().validate()
    again = RunConfig.from_dict(json.loads(config.to_json()))
    assert again == config


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (RunConfig(data=DataConfig(image_size=100)), "image_size"),
        (RunConfig(data=DataConfig(augment="magic")), "augment"),
        (RunConfig(model=ModelConfig(widths=())), "widths"),
        (RunConfig(model=ModelConfig(dropout=1.0)), "dropout"),
        (RunConfig(train=TrainConfig(epochs=0)), "epochs"),
        (RunConfig(train=TrainConfig(lr=float("nan"))), "lr"),
        (RunConfig(train=TrainConfig(loss="hinge")), "loss"),
        (RunConfig(train=TrainConfig(device="gpu")), "device"),
        (RunConfig(train=TrainConfig(batch_size=True)), "batch_size"),
        (RunConfig(train=TrainConfig(ema=1.0)), "ema"),
        (RunConfig(train=TrainConfig(ema=-0.1)), "ema"),
        (RunConfig(train=TrainConfig(mixup=-0.2)), "mixup"),
        (RunConfig(train=TrainConfig(cutmix=float("inf"))), "cutmix"),
    ],
)
def test_invalid_values_name_their_field(config: RunConfig, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.validate()
    assert caught.value.field == field


def test_cuda_index_device_is_accepted() -> None:
    TrainConfig(device="cuda:1").validate()


def test_unknown_keys_are_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        RunConfig.from_dict({"train": {"bogus": 1}})


def test_a_config_written_before_the_newer_model_fields_means_a_plain_network() -> None:
    from workbench.config import MODEL_FIELDS_BEFORE_THEY_EXISTED

    saved = RunConfig().to_dict()
    for name in MODEL_FIELDS_BEFORE_THEY_EXISTED:
        del saved["model"][name]
    model = RunConfig.from_dict(saved).model
    assert (model.stem, model.residual, model.squeeze_excite) == (0, False, False)
    # A config that names them keeps its own values.
    assert RunConfig.from_dict(RunConfig().to_dict()) == RunConfig()
