"""The command the Train screen launches is one `workbench train` accepts, with the form values."""

from __future__ import annotations

from pathlib import Path

from workbench import tui_launch
from workbench.__main__ import build_parser
from workbench.cli.train import config_from_args
from workbench.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from workbench.tui_launch import train_argv


def test_train_argv_parses_to_the_form_values(tmp_path: Path) -> None:
    config = RunConfig(
        data=DataConfig(data="animals.zip", image_size=64, seed=7, augment="albumentations"),
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
            loss="focal", device="cpu",
        ),
    )  # fmt: skip
    argv = train_argv(config, tmp_path / "run")
    assert argv[1:4] == ["-m", "workbench", "train"]
    args = build_parser().parse_args(argv[3:])
    assert (args.data, args.image_size, args.seed, args.augment) == (
        "animals.zip",
        64,
        7,
        "albumentations",
    )
    assert (args.epochs, args.batch_size, args.lr) == (3, 16, 3e-4)
    assert (args.optimizer, args.schedule, args.loss, args.device) == (
        "sgd",
        "onecycle",
        "focal",
        "cpu",
    )
    assert config_from_args(args).model == config.model
    assert args.run_dir == str(tmp_path / "run")


def test_resume_argv(tmp_path: Path) -> None:
    argv = train_argv(RunConfig(), tmp_path / "run", resume=True)
    args = build_parser().parse_args(argv[3:])
    assert args.resume and args.run_dir == str(tmp_path / "run")


def test_tail_shows_accelerator_memory_only_when_reported(tmp_path: Path) -> None:
    from tests.ui.rundirs import write_run

    gpu = tui_launch.RunTail(write_run(tmp_path / "gpu", memory=(4.1, 139.8)))
    gpu.poll()
    assert gpu.state.memory == "4.1/140 GiB"
    cpu = tui_launch.RunTail(write_run(tmp_path / "cpu"))
    cpu.poll()
    assert cpu.state.memory == ""
