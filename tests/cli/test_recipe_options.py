"""The recipe's options (``--ema``, ``--mixup``, ``--cutmix``): offered by ``train --help``,
kept in config.json, and absent from an older config.json means off."""

from __future__ import annotations

import json

import pytest

from workbench.__main__ import main
from workbench.config import RunConfig, with_values

NEW_TRAIN_FIELDS = ("ema", "mixup", "cutmix")


def test_the_options_are_in_train_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for option in ("--ema DECAY", "--mixup ALPHA", "--cutmix ALPHA"):
        assert option in text


def test_the_options_round_trip_through_config_json() -> None:
    config = with_values(None, {"ema": 0.999, "mixup": 0.2, "cutmix": 1.0}).validate()
    again = RunConfig.from_dict(json.loads(config.to_json()))
    assert again == config
    assert (again.train.ema, again.train.mixup, again.train.cutmix) == (0.999, 0.2, 1.0)


def test_a_config_json_from_before_the_options_means_them_off() -> None:
    saved = RunConfig().to_dict()
    for name in NEW_TRAIN_FIELDS:
        del saved["train"][name]
    assert RunConfig.from_dict(saved) == RunConfig()
    assert (RunConfig().train.ema, RunConfig().train.mixup, RunConfig().train.cutmix) == (0, 0, 0)


def test_a_sweep_grid_may_vary_them() -> None:
    from workbench.engine.sweep import parse_grid

    grid = parse_grid(["ema=0,0.999", "mixup=0,0.2", "cutmix=0,1"])
    assert [name for name, _values in grid.axes] == ["ema", "mixup", "cutmix"]
