"""Sweeps: grid parsing, one run per combination, a stopped sweep re-run finishes only what is
missing, and the sweep figures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.support.files import png_ok
from tests.support.tiny_run import tiny_run, tiny_run_config
from workbench.engine.events import EpochEnd, Event, RunStarted
from workbench.engine.export.sweep import summary_text, write_sweep_artefacts
from workbench.engine.loop import StopFlag
from workbench.engine.sweep import (
    apply_params,
    default_sweep_dir,
    load_plan,
    parse_grid,
    plan_sweep,
    read_sweep,
    run_name,
    run_sweep,
)
from workbench.errors import UsageError


def test_parse_grid_and_combinations() -> None:
    grid = parse_grid(["lr=1e-3,3e-4", "loss=ce,focal", "batch_size=32,64"])
    assert grid.names == ["lr", "loss", "batch-size"]
    combos = grid.combinations()
    assert len(combos) == 8
    assert combos[0] == {"lr": "1e-3", "loss": "ce", "batch-size": "32"}
    assert combos[1] == {"lr": "1e-3", "loss": "ce", "batch-size": "64"}
    assert combos[-1] == {"lr": "3e-4", "loss": "focal", "batch-size": "64"}
    assert parse_grid(["lr=1e-3,3e-4 loss=ce"]).names == ["lr", "loss"]
    assert run_name(3, combos[0]) == "03-lr=1e-3-loss=ce-batch-size=32"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "at least one"),
        (["lr"], "is not NAME=V1"),
        (["speed=1,2"], "unknown hyper-parameter 'speed'"),
        (["lr=1e-3", "lr=1e-4"], "lr is given twice"),
        (["lr="], "lr has no values"),
        (["lr=fast"], "lr='fast' is not a number"),
        (["batch-size=3.5"], "is not an integer"),
        (["lr=1e-3,1e-3"], "repeats a value"),
        (["lr=1e-3,0.001"], "repeats a value"),
        (["residual=on,true"], "repeats a value"),
        (["residual=maybe"], "residual='maybe' is not on or off"),
    ],
)
def test_bad_grids(items: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_grid(items)


def test_apply_params_sets_and_validates() -> None:
    tiny = tiny_run()
    base = tiny_run_config(tiny.data_dir, tiny.cache_dir)
    config = apply_params(base, {"lr": "1e-2", "dropout": "0.5", "image-size": "128"})
    assert (config.train.lr, config.model.dropout, config.data.image_size) == (0.01, 0.5, 128)
    warm = dataclasses.replace(base, train=dataclasses.replace(base.train, warmup_epochs=2))
    short = apply_params(warm, {"epochs": "1"})  # the 2-epoch warm-up is cut, as in train
    assert (short.train.epochs, short.train.warmup_epochs) == (1, 1)
    assert apply_params(warm, {"epochs": "5"}).train.warmup_epochs == 2
    with pytest.raises(UsageError, match="warmup_epochs"):  # asked for: not silently changed
        apply_params(warm, {"epochs": "1", "warmup-epochs": "2"})
    plain = apply_params(base, {"residual": "off", "squeeze-excite": "yes"})
    assert (plain.model.residual, plain.model.squeeze_excite) == (False, True)
    with pytest.raises(UsageError, match="--grid: loss=hinge: must be one of"):
        plan_sweep(parse_grid(["loss=hinge"]), base, "unused")
    other = tiny_run_config(tiny.data_dir, tiny.cache_dir, device="auto", num_workers=3)
    grid = parse_grid(["lr=1e-3"])
    assert default_sweep_dir("runs", grid, base) == default_sweep_dir("runs", grid, other)
    assert default_sweep_dir("runs", grid, base) != default_sweep_dir(
        "runs", parse_grid(["lr=2e-3"]), base
    )


@pytest.mark.slow
def test_stopped_sweep_rerun_finishes_only_the_missing_run(tmp_path: Path) -> None:
    tiny = tiny_run()
    base = tiny_run_config(tiny.data_dir, tiny.cache_dir, epochs=2)
    plan = plan_sweep(parse_grid(["lr=3e-3,1e-3"]), base, tmp_path / "sweep")
    first, second = plan.entries
    stop = StopFlag()
    started: list[str] = []

    def watch(event: Event) -> None:
        if isinstance(event, RunStarted):
            started.append(Path(event.run_dir).name)
        if isinstance(event, EpochEnd) and len(started) == 2 and event.epoch == 1:
            stop.request("test")

    result = run_sweep(plan, subscribers=[watch], stop=stop)
    assert result.stopped
    assert [(o.entry.name, o.action, o.state) for o in result.outcomes] == [
        (first.name, "started", "finished"),
        (second.name, "started", "stopped"),
    ]
    kept = (first.path / "metrics" / "val.txt").read_bytes()
    kept_ckpt = (first.path / "checkpoints" / "best.pt").stat().st_mtime_ns

    # the re-run, from the plan recorded in sweep.json
    actions: list[tuple[str, str]] = []
    started.clear()
    again = run_sweep(
        load_plan(plan.root),
        subscribers=[watch],
        on_entry=lambda entry, action: actions.append((entry.name, action)),
    )
    assert not again.stopped
    assert actions == [(first.name, "skip-finished"), (second.name, "resume")]
    assert started == [second.name]
    assert (first.path / "metrics" / "val.txt").read_bytes() == kept
    assert (first.path / "checkpoints" / "best.pt").stat().st_mtime_ns == kept_ckpt
    summary = read_sweep(plan.root)
    assert [row.state for row in summary.rows] == ["finished", "finished"]
    assert [row.epochs_done for row in summary.rows] == [2, 2]
    assert [[r.epoch for r in row.val] for row in summary.rows] == [[1, 2], [1, 2]]

    # a third run does nothing
    third = run_sweep(load_plan(plan.root))
    assert [o.action for o in third.outcomes] == ["skipped", "skipped"]

    # figures
    written = write_sweep_artefacts(summary, tmp_path / "out")
    assert [p.name for p in written] == ["sweep_lr.png", "sweep_summary.txt"]
    png_ok(written[0])
    text = summary_text(summary)
    assert first.name in text and second.name in text and "best: " in text

    # another grid in the same folder is refused
    with pytest.raises(UsageError, match="holds another sweep"):
        run_sweep(plan_sweep(parse_grid(["lr=5e-3"]), base, plan.root))
