"""A field added to the option table reaches every surface with no other edit: the `train`
options and help, the sweep's grid, the Train form and the config the TUI launches a run with.

The field is a throw-away one: a subclass of TrainConfig with one more ``option(...)`` field,
put in the table's place for the train section (``config.SECTIONS``) for this test only."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from tests.ui.helpers import settle
from workbench import config, tui_launch
from workbench.__main__ import build_parser
from workbench.cli.train import config_from_args
from workbench.config import Form, TrainConfig, option
from workbench.errors import ConfigError, UsageError
from workbench.screens.train import TrainScreen


@pytest.fixture
def knob(monkeypatch: pytest.MonkeyPatch) -> None:
    """``train.knob``: an integer 0..9, default 3, sweepable, last on the form as "knob"."""

    @dataclasses.dataclass(frozen=True)
    class KnobTrainConfig(TrainConfig):
        knob: int = option(3, "a throw-away knob", sweep=True, form=Form(99, "knob"))

        def validate(self) -> None:
            super().validate()
            if not 0 <= self.knob <= 9:
                raise ConfigError("knob", f"must be in 0..9, got {self.knob}")

    monkeypatch.setitem(config.SECTIONS, "train", KnobTrainConfig)


def test_the_field_is_a_train_option_with_its_help_and_check(
    knob: None, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()
    assert config_from_args(parser.parse_args(["train"])).train.knob == 3
    given = config_from_args(parser.parse_args(["train", "--knob", "5", "--epochs", "2"]))
    assert (given.train.knob, given.train.epochs) == (5, 2)
    with pytest.raises(UsageError, match=r"^--knob: must be in 0\.\.9, got 12$"):
        config_from_args(parser.parse_args(["train", "--knob", "12"]))
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--knob KNOB a throw-away knob (default: 3)" in help_text


def test_the_field_is_a_grid_name(knob: None, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.engine.sweep import apply_params, grid_params, parse_grid

    assert "knob" in grid_params()
    grid = parse_grid(["knob=1,2", "lr=1e-3"])
    configs = [apply_params(config.with_values(None, {}), c) for c in grid.combinations()]
    assert [c.train.knob for c in configs] == [1, 2]
    with pytest.raises(UsageError, match="knob='x' is not an integer"):
        parse_grid(["knob=x"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sweep", "--help"])
    assert "knob" in capsys.readouterr().out.split("Options below")[0]


async def test_the_field_is_on_the_form_and_in_the_launched_config(
    knob: None, make_app: Any, runs_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: list[list[str]] = []

    def start_training(argv: list[str], run_dir: Path, **_: object) -> subprocess.Popen[bytes]:
        launched.append(argv)  # what would train: a process that ends at once stands in
        return subprocess.Popen([sys.executable, "-c", ""])

    monkeypatch.setattr(tui_launch, "start_training", start_training)
    app = make_app(start_mode="train")
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        field = screen.query_one("#f-knob", Input)
        assert field.value == "3" and screen.names[-1] == "knob"
        field.value = "12"
        await pilot.pause()
        assert screen.errors == {"knob": "must be in 0..9, got 12"}
        field.value = "7"
        for name, value in {"epochs": "2", "widths": "8,16", "device": "cpu"}.items():
            screen.query_one(f"#f-{name}", Input).value = value
        await pilot.pause()
        assert screen.errors == {}
        screen.set_focus(None)
        await pilot.press("s")
        await pilot.pause()
    assert len(launched) == 1
    argv = launched[0]
    run_dir = Path(argv[argv.index("--run-dir") + 1])
    written = json.loads((run_dir / "config.json").read_text())
    assert written["train"]["knob"] == 7
    launched_config = config_from_args(build_parser().parse_args(argv[3:]))
    assert launched_config.train.knob == 7 and launched_config.train.epochs == 2
