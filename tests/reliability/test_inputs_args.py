"""Bad arguments end in exit code 2 and one line, before anything is created (issue 12, sec. 5).

Each rule lives once where its fact does (the seed range, the stages an image size allows and
an empty data path in ``workbench.config``; which devices exist in ``engine.device``; folder
and file options in ``cli.common``) and the CLI's error mapping turns it into the one line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from workbench.__main__ import main
from workbench.config import SEED_MAX, DataConfig, ModelConfig, RunConfig
from workbench.errors import ConfigError

MakeFolder = Callable[..., Path]

TOO_BIG_SEED = str(SEED_MAX + 1)
TOO_MANY_STAGES = ["--widths", "8,8,8,8,8,8", "--image-size", "64"]

# (argv, a word the one line must hold). In argv, FILE is an existing file, DIR an existing
# folder with images in it; every case runs in an empty current folder.
TABLE: list[tuple[list[str], str]] = [
    (["train", *TOO_MANY_STAGES], "--widths"),
    (["train", *TOO_MANY_STAGES, "--run-dir", "r"], "--widths"),
    (["sweep", "--grid", "image-size=64,128", "--widths", "8,8,8,8,8,8"], "image-size=64"),
    (["train", "--seed", TOO_BIG_SEED], "--seed"),
    (["train", "--seed", "-1"], "--seed"),
    (["split", "--data", "DIR", "--seed", TOO_BIG_SEED], "--seed"),
    (["sweep", "--grid", f"seed=1,{TOO_BIG_SEED}"], "seed"),
    (["backprop", "--seed", "-5"], "--seed"),
    (["backprop", "--seed", TOO_BIG_SEED], "--seed"),
    (["train", "--run-dir", "FILE"], "--run-dir"),
    (["train", "--run-dir", "FILE/run"], "--run-dir"),
    (["train", "--runs-root", "FILE"], "--runs-root"),
    (["train", "--resume", "--run-dir", "FILE"], "--run-dir"),
    (["sweep", "--grid", "lr=1e-3", "--sweep-dir", "FILE"], "--sweep-dir"),
    (["sweep", "--grid", "lr=1e-3", "--runs-root", "FILE"], "--runs-root"),
    (["sweep", "--sweep-dir", "FILE"], "--sweep-dir"),
    (["split", "--data", "DIR", "--out", "DIR"], "--out"),
    (["split", "--data", "DIR", "--out", "FILE/split.csv"], "--out"),
    (["eval", "nowhere", "--device", "tpu"], "--device"),
    (["eval", "nowhere", "--device", "cuda:x"], "--device"),
    (["eval", "nowhere", "--device", ""], "--device"),
    (["train", "--device", "tpu"], "--device"),
    (["train", "--data", ""], "--data"),
    (["train", "--resume", "--run-dir", "r", "--data", ""], "--data"),
    (["split", "--data", ""], "--data"),
    (["eval", "nowhere", "--data", ""], "--data"),
    (["--export", "--data", ""], "--data"),
    (["--export", "--run", "nowhere", "--data", ""], "--data"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("argv", "word"), TABLE, ids=[" ".join(argv) or "empty" for argv, _ in TABLE]
)
def test_bad_arguments_exit_2_with_one_line_and_create_nothing(
    argv: list[str],
    word: str,
    make_image_folder: MakeFolder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    images = make_image_folder({"cats": 10, "dogs": 10})
    work = tmp_path / "work"
    work.mkdir()
    (work / "FILE").write_text("a file, not a folder")
    monkeypatch.chdir(work)
    before = sorted(tmp_path.rglob("*")), sorted(images.rglob("*"))
    argv = [str(images) if arg == "DIR" else arg for arg in argv]

    code = main([*argv, "--cache-dir", str(tmp_path / "cache")] if argv[0] == "split" else argv)

    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and word in lines[0] and "Traceback" not in err, err
    assert (sorted(tmp_path.rglob("*")), sorted(images.rglob("*"))) == before


@pytest.mark.parametrize("stem", [0, 32])
@pytest.mark.parametrize("size", [64, 128, 256])
def test_the_stage_rule_is_the_one_the_network_obeys(stem: int, size: int) -> None:
    """``ModelConfig.feature_side`` (what validation refuses by) against the real network: it
    builds and runs at the most stages allowed, and where the image size is what limits them
    (64 px after the stem), one more is refused, naming the limit."""
    import torch

    from workbench.engine.model import build_model

    most = min(ModelConfig(stem=stem).max_stages(size), 6)  # 6: the most stages at any size
    model = ModelConfig(widths=(4,) * most, stem=stem, convs_per_stage=1)
    config = RunConfig(data=DataConfig(image_size=size), model=model).validate()
    features = build_model(config.model, 2).features.eval()
    with torch.no_grad():
        side = features(torch.zeros(1, 3, size, size)).shape[-1]
    assert side == model.feature_side(size) >= 1
    if most < 6:
        one_more = dataclasses.replace(
            config, model=dataclasses.replace(model, widths=(4,) * (most + 1))
        )
        with pytest.raises(ConfigError) as refused:
            one_more.validate()
        assert refused.value.field == "widths"
        assert f"at most {most} widths" in refused.value.message
