"""The command the Train screen launches is one `workbench train` accepts, with the form values:
the config goes into the new run directory, and the command names it with --config."""

from __future__ import annotations

import json
from pathlib import Path

from workbench import tui_launch
from workbench.__main__ import build_parser
from workbench.cli.train import config_from_args
from workbench.config import DataConfig, ModelConfig, RunConfig, TrainConfig


def test_new_run_writes_its_config_and_the_command_reads_it_back(tmp_path: Path) -> None:
    config = RunConfig(
        data=DataConfig(
            data=str(tmp_path / "animals.zip"), image_size=64, seed=7, augment="albumentations",
            cache_dir=str(tmp_path / "cache"), resize="pad",
        ),
        model=ModelConfig(
            widths=(8, 16),
            convs_per_stage=2,
            dropout=0.35,
            stem=4,
            residual=not ModelConfig().residual,
            squeeze_excite=not ModelConfig().squeeze_excite,
        ),
        train=TrainConfig(
            epochs=3, batch_size=16, lr=3e-4, optimizer="sgd", schedule="onecycle",
            loss="focal", device="cpu", weight_decay=5e-4, grad_clip=1.0, early_stopping=2,
            deterministic=True, amp=False, num_workers=0,
        ),
    )  # fmt: skip
    run_dir, argv = tui_launch.new_run(tmp_path / "runs", config)
    assert argv[1:4] == ["-m", "workbench", "train"]
    assert argv[4:] == ["--run-dir", str(run_dir), "--config", str(run_dir / "config.json")]
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json"]
    assert json.loads((run_dir / "config.json").read_text()) == json.loads(config.to_json())
    args = build_parser().parse_args(argv[3:])
    assert config_from_args(args) == config  # every field, not only those the form shows


def test_a_launched_run_is_listed_once_it_has_started(tmp_path: Path) -> None:
    """Until the run writes its own config.json (with the classes) and status.json, the folder
    holds only the launcher's config: not a run yet, as the empty folder was not."""
    from workbench.engine.runs import is_run_dir, list_runs

    root = tmp_path / "runs"
    run_dir, _ = tui_launch.new_run(root, RunConfig())
    assert not is_run_dir(run_dir) and list_runs(root) == []
    (run_dir / "status.json").write_text('{"state": "running"}')
    assert [run.path for run in list_runs(root)] == [run_dir]


def test_resume_argv(tmp_path: Path) -> None:
    argv = tui_launch.train_argv(tmp_path / "run")
    args = build_parser().parse_args(argv[3:])
    assert args.resume and args.run_dir == str(tmp_path / "run") and args.config is None


def test_tail_shows_accelerator_memory_only_when_reported(tmp_path: Path) -> None:
    from tests.ui.rundirs import write_run

    gpu = tui_launch.RunTail(write_run(tmp_path / "gpu", memory=(4.1, 139.8)))
    gpu.poll()
    assert gpu.state.memory == "4.1/140 GiB"
    cpu = tui_launch.RunTail(write_run(tmp_path / "cpu"))
    cpu.poll()
    assert cpu.state.memory == ""


def test_the_sweep_form_offers_grid_names_and_its_argv_spells_the_options(tmp_path: Path) -> None:
    from workbench.engine.sweep import grid_params, parse_grid
    from workbench.screens.sweep_form import GRID_FIELDS

    assert {name for name, _ in GRID_FIELDS} <= set(grid_params())
    parse_grid([f"{name}={values}" for name, values in GRID_FIELDS if values])
    argv = tui_launch.sweep_argv(
        ("lr=1e-3,3e-3",), data=None, cache_dir="c", runs_root=tmp_path, epochs=3, image_size=64
    )
    args = build_parser().parse_args(argv[3:])
    assert (args.grid, args.data, args.cache_dir) == (["lr=1e-3,3e-3"], None, "c")
    assert (args.epochs, args.image_size, args.runs_root) == (3, 64, str(tmp_path))
    assert args.parallel == 1
    argv = tui_launch.sweep_argv(
        ("lr=1e-3,3e-3",), data=None, cache_dir=None, runs_root=tmp_path, epochs=3, image_size=64,
        parallel=2,
    )  # fmt: skip
    assert build_parser().parse_args(argv[3:]).parallel == 2
