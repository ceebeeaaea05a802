"""The recipe's options (``--ema``, ``--mixup``, ``--cutmix``, ``--precise-bn``): offered by
``train --help``, kept in config.json, and absent from an older config.json means off."""

from __future__ import annotations

import json

import pytest

from workbench.__main__ import main
from workbench.config import RunConfig, TrainConfig, with_values


def test_the_options_are_in_train_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for option in ("--ema DECAY", "--mixup ALPHA", "--cutmix ALPHA", "--precise-bn IMAGES"):
        assert option in text


def test_the_options_round_trip_through_config_json() -> None:
    values = {"ema": 0.999, "mixup": 0.4, "cutmix": 0.5, "precise_bn": 256}
    config = with_values(None, values).validate()
    again = RunConfig.from_dict(json.loads(config.to_json()))
    assert again == config
    assert {name: getattr(again.train, name) for name in values} == values


OLD_TRAIN_SECTION = {  # config.json's train section as the workbench wrote it on 2026-12-01
    "amp": True,
    "batch_size": 64,
    "deterministic": False,
    "device": "auto",
    "early_stopping": 0,
    "epochs": 30,
    "focal_gamma": 2.0,
    "grad_clip": 0.0,
    "label_smoothing": 0.1,
    "loss": "ce",
    "lr": 0.003,
    "num_workers": 2,
    "optimizer": "adamw",
    "schedule": "cosine",
    "warmup_epochs": 2,
    "weight_decay": 0.05,
}


def test_a_config_written_before_the_newer_train_fields_means_a_run_without_them() -> None:
    """Whatever today's defaults are, a run saved before --ema, --mixup, --cutmix and
    --precise-bn existed trained without them; a hand-written section gets the defaults."""
    saved = RunConfig().to_dict() | {"train": dict(OLD_TRAIN_SECTION)}
    train = RunConfig.from_dict(saved).train
    assert (train.ema, train.mixup, train.cutmix, train.precise_bn) == (0.0, 0.0, 0.0, 0)
    assert train.epochs == 30 and train.nproc_per_node == TrainConfig().nproc_per_node
    assert RunConfig.from_dict({"train": {"epochs": 5}}).train == TrainConfig(epochs=5)
    assert RunConfig.from_dict(RunConfig().to_dict()) == RunConfig()


def test_a_sweep_grid_may_vary_them() -> None:
    from workbench.engine.sweep import parse_grid

    grid = parse_grid(["ema=0,0.999", "mixup=0,0.2", "cutmix=0,1", "precise-bn=0,512"])
    assert [name for name, _values in grid.axes] == ["ema", "mixup", "cutmix", "precise-bn"]
