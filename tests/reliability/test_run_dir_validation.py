"""A checkpoint whose normalisation or metadata is inconsistent (issue 12, section 5) is refused
in one line before anything is computed, and every JSON the project writes is strict JSON (no
bare NaN or Infinity, which json.loads takes but jq, JavaScript and pandas do not)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.reliability.rundir_helpers import copy_run, one_error_line, stopped_run
from workbench.__main__ import main
from workbench.config import RunConfig
from workbench.engine.epoch_metrics import EpochMetrics
from workbench.engine.events import EVENT_TYPES

pytestmark = pytest.mark.timeout(120)

State = dict[str, Any]


def _first_float_tensor(state: State) -> torch.Tensor:
    return next(v for v in state["model"].values() if v.is_floating_point())


INCONSISTENT: dict[str, Callable[[State], None]] = {
    "zero channel spread": lambda s: s.update(std=[0.0, 0.0, 0.0]),
    "two channel spreads": lambda s: s.update(std=[0.2, 0.2]),
    "a NaN channel mean": lambda s: s.update(mean=[math.nan, 0.5, 0.5]),
    "means on the 0-255 scale": lambda s: s.update(mean=[120.0, 110.0, 100.0]),
    "an image size that is none": lambda s: s.update(image_size=100),
    "an image size not the config's": lambda s: s.update(image_size=128),
    "fewer classes than outputs": lambda s: s.update(classes=["cats", "dogs"]),
    "a class named twice": lambda s: s.update(classes=["cats", "cats", "dogs"]),
    "classes not config.json's": lambda s: s.update(classes=["a", "b", "c"]),
    "NaN weights": lambda s: _first_float_tensor(s).fill_(math.nan),
    "a fingerprint that is a number": lambda s: s.update(split_fingerprint=5),
    "a negative epoch": lambda s: s.update(epoch=-1),
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _eval(source: Path, out: Path, *extra: str) -> int:
    cache = str(stopped_run().cache_dir)
    argv = ["eval", str(source), "--cache-dir", cache, "--out", str(out), "--device", "cpu"]
    return main([*argv, *extra])


def _strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("change", INCONSISTENT.values(), ids=INCONSISTENT.keys())
def test_eval_refuses_an_inconsistent_checkpoint_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Callable[[State], None]
) -> None:
    run_dir = copy_run(tmp_path / "runs" / "r")
    best = run_dir / "checkpoints" / "best.pt"
    state = torch.load(best, weights_only=True)
    change(state)
    torch.save(state, best)
    out = tmp_path / "out"
    assert _eval(run_dir, out) == 2
    assert f"{run_dir.name}/checkpoints/best.pt" in one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_every_json_written_is_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = copy_run(tmp_path / "runs" / "r")
    out = tmp_path / "out"
    assert _eval(run_dir, out, "--json") == 0
    printed = _strict(capsys.readouterr().out)
    report = _strict((out / "test_report.json").read_text())
    assert printed["accuracy"] == report["accuracy"] and 0 <= report["accuracy"] <= 1
    _strict((run_dir / "config.json").read_text())
    _strict((run_dir / "status.json").read_text())
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        _strict(line)


def test_json_on_stdout_names_non_finite_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli.common import emit_json

    emit_json({"loss": math.inf, "values": [1.0, math.nan]})
    assert _strict(capsys.readouterr().out) == {"loss": "inf", "values": [1.0, "nan"]}


def test_every_field_type_of_the_run_files_is_checked() -> None:
    """The readers check each field by its annotation: a new field of a new type must come
    with its check, or it would be read unchecked."""
    from workbench.engine.runs import TYPE_CHECKS

    kinds = [type(RunConfig().data), type(RunConfig().model), type(RunConfig().train)]
    kinds += [EpochMetrics, *EVENT_TYPES.values()]
    annotations = {str(f.type) for kind in kinds for f in dataclasses.fields(kind)}
    assert annotations <= set(TYPE_CHECKS), annotations - set(TYPE_CHECKS)
