"""The recipe's options (``--ema``): offered by ``train --help``, kept in config.json, and
absent from an older config.json means off."""

from __future__ import annotations

import json

import pytest

from workbench.__main__ import main
from workbench.config import RunConfig, with_values

NEW_TRAIN_FIELDS = ("ema",)


def test_the_options_are_in_train_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "--ema DECAY" in text


def test_the_options_round_trip_through_config_json() -> None:
    config = with_values(None, {"ema": 0.999}).validate()
    again = RunConfig.from_dict(json.loads(config.to_json()))
    assert again == config and again.train.ema == 0.999


def test_a_config_json_from_before_the_options_means_them_off() -> None:
    saved = RunConfig().to_dict()
    for name in NEW_TRAIN_FIELDS:
        del saved["train"][name]
    assert RunConfig.from_dict(saved) == RunConfig()
    assert RunConfig().train.ema == 0
