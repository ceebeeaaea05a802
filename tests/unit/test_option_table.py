"""The option table in config.py: complete, consistent, and what the CLI derives from it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from workbench import config
from workbench.__main__ import build_parser, main
from workbench.cli.train import config_from_args
from workbench.config import (
    INTERNAL,
    KINDS,
    OPTION,
    SECTIONS,
    ModelConfig,
    RunConfig,
    TrainConfig,
    offered_fields,
    option_name,
    with_values,
)
from workbench.errors import ConfigError, UsageError


def test_every_config_field_is_offered_or_marked_internal() -> None:
    for section, kind in SECTIONS.items():
        for f in dataclasses.fields(kind):
            marks = [key for key in (OPTION, INTERNAL) if key in f.metadata]
            assert len(marks) == 1, f"{section}.{f.name}: offered or internal, exactly one"
            if INTERNAL in f.metadata:
                assert f.metadata[INTERNAL].strip(), f"{section}.{f.name}: say why it is internal"
    assert [s.name for s in dataclasses.fields(RunConfig)] == list(SECTIONS)


def test_the_table_is_consistent() -> None:
    offered = offered_fields()
    names = [f.name for f in offered]
    assert len(names) == len(set(names)), "a field name is what a ConfigError names: unique"
    assert {f.annotation for f in offered} <= set(KINDS)
    orders = [f.option.form.order for f in offered if f.option.form is not None]
    assert len(orders) == len(set(orders))
    for f in offered:
        assert f.option.help and not f.option.help.endswith(".")
        assert f.parse(f.text(f.default)) == f.default or f.default is None
        for choice in f.option.choices or ():  # every choice is a value validation accepts
            with_values(None, {f.name: choice}).validate()
        if f.option.pair or (f.option.sweep and f.annotation == "bool"):
            assert f.flag == f"--{f.spelled}"


def test_a_config_error_names_the_option_a_user_typed() -> None:
    assert option_name("batch_size") == "--batch-size"
    assert option_name("amp") == "--no-amp"  # the flag that sets it
    assert option_name("demo_per_class") == "demo_per_class"  # internal: no option
    with pytest.raises(UsageError, match=r"^--batch-size: must be an integer in 1\.\.4096"):
        config_from_args(build_parser().parse_args(["train", "--batch-size", "0"]))


def test_options_left_out_are_the_defaults_and_flags_flip_them() -> None:
    parser = build_parser()
    assert config_from_args(parser.parse_args(["train"])) == RunConfig()
    flipped = config_from_args(
        parser.parse_args(["train", "--no-amp", "--deterministic", "--no-residual"])
    )
    assert (flipped.train.amp, flipped.train.deterministic, flipped.model.residual) == (
        False,
        True,
        False,
    )
    widths = config_from_args(parser.parse_args(["train", "--widths", "8, 16"])).model.widths
    assert widths == (8, 16)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--widths", "8,x"])


def _write(path: Path, document: object) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def test_config_file_is_the_base_and_options_given_override_it(tmp_path: Path) -> None:
    saved = RunConfig(
        model=ModelConfig(widths=(8, 16), stem=0, residual=False),
        train=TrainConfig(epochs=5, warmup_epochs=3, lr=0.01, device="cpu"),
    )
    file = _write(tmp_path / "config.json", {**saved.to_dict(), "classes": ["a", "b"]})
    parser = build_parser()
    assert config_from_args(parser.parse_args(["train", "--config", file])) == saved
    mixed = config_from_args(
        parser.parse_args(["train", "--config", file, "--lr", "0.5", "--residual"])
    )
    assert mixed == dataclasses.replace(
        saved,
        model=dataclasses.replace(saved.model, residual=True),
        train=dataclasses.replace(saved.train, lr=0.5),
    )
    shorter = config_from_args(parser.parse_args(["train", "--config", file, "--epochs", "2"]))
    assert (shorter.train.epochs, shorter.train.warmup_epochs) == (2, 2)  # the CLI's rule
    with pytest.raises(UsageError, match=r"^--warmup-epochs: "):
        config_from_args(parser.parse_args(["train", "--config", file, "--warmup-epochs", "9"]))


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (None, "is missing"),
        ("[1]", "holds a JSON list where an object belongs"),
        ({"data": {}, "model": {}}, "its 'train' section is missing, not an object"),
        ({"data": {}, "model": {}, "train": {"lr": "x"}}, 'train.lr must be a number, not "x"'),
        ({"data": {}, "model": {}, "train": {"speed": 1}}, "unknown field train.speed"),
        ({"data": {}, "model": {}, "train": {"epochs": 0}}, "epochs: must be an integer"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: object, problem: str
) -> None:
    path = tmp_path / "config.json"
    if isinstance(document, str):
        path.write_text(document)
    elif document is not None:
        _write(path, document)
    run_dir = tmp_path / "run"
    assert main(["train", "--config", str(path), "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"error: --config {path}: {problem}"), err
    assert not run_dir.exists()  # refused before the run directory is made or locked


def test_config_file_with_resume_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.ui.rundirs import write_run

    run_dir = write_run(tmp_path / "run", end="stopped")
    config_file = str(run_dir / "config.json")
    assert main(["train", "--run-dir", str(run_dir), "--resume", "--config", config_file]) == 2
    assert "--config: a resumed run keeps its own config.json" in capsys.readouterr().err


def test_a_run_dir_may_hold_only_the_config_file_it_is_started_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    elsewhere = _write(tmp_path / "other.json", RunConfig().to_dict())
    _write(run_dir / "config.json", RunConfig().to_dict())
    assert main(["train", "--run-dir", str(run_dir), "--config", elsewhere]) == 2
    assert "exists and is not empty" in capsys.readouterr().err


def test_with_values_sets_fields_by_name_and_refuses_unknown_ones() -> None:
    changed = with_values(RunConfig(), {"lr": 0.1, "stem": 0, "seed": 1})
    assert (changed.train.lr, changed.model.stem, changed.data.seed) == (0.1, 0, 1)
    assert changed.train.warmup_epochs == TrainConfig.warmup_epochs
    with pytest.raises(KeyError):
        with_values(None, {"speed": 1})
    with pytest.raises(ConfigError):
        with_values(None, {"image_size": 100}).validate()
    assert config.offered_field("demo_per_class") is None
