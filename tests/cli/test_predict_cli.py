"""`workbench predict` end to end, in a subprocess, on the session's tiny trained run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from tests.support.cli import run_cli
from tests.support.tiny_run import tiny_data, tiny_run
from workbench.engine.evaluate import evaluate, load_model

TAKEN = 6
"""Test images given to predict (a few of each class's)."""


def test_predict_gives_evals_probabilities_and_goes_past_a_non_image(tmp_path: Path) -> None:
    tiny = tiny_run()
    evaluation = evaluate(load_model(tiny.run_dir), tiny_data(), explained=0)
    positions = np.linspace(0, len(evaluation.paths) - 1, TAKEN).astype(int).tolist()
    files = [str(tiny.data_dir / evaluation.paths[p]) for p in positions]
    stray = tmp_path / "notes.jpg"
    stray.write_text("not an image")
    given = [*files[:2], str(stray), *files[2:]]
    result = run_cli("predict", *given, "--run", str(tiny.run_dir), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # the whole of stdout is one document
    assert [p["file"] for p in document["predictions"]] == files
    [unreadable] = document["unreadable"]
    assert unreadable["file"] == str(stray) and "not an image" in unreadable["reason"]
    reported = [line for line in result.stderr.splitlines() if "not predicted" in line]
    assert len(reported) == 1 and str(stray) in reported[0]
    classes = evaluation.classes
    for position, entry in zip(positions, document["predictions"], strict=True):
        got = np.array([entry["probabilities"][name] for name in classes])
        np.testing.assert_allclose(got, evaluation.probabilities[position], atol=1e-5)
        assert abs(got.sum() - 1.0) < 1e-5
        assert entry["prediction"] == classes[int(evaluation.predictions[position])]
        expected_entropy = -float(np.sum(got[got > 0] * np.log(got[got > 0])))
        assert abs(entry["entropy"] - expected_entropy) < 1e-5


def test_predict_finds_the_default_run_and_writes_grad_cam(tmp_path: Path) -> None:
    tiny = tiny_run()
    folder = tmp_path / "some dogs"
    folder.mkdir()
    for image in sorted((tiny.data_dir / "dogs").iterdir())[:3]:
        shutil.copy(image, folder / image.name)
    (folder / "readme.txt").write_text("a folder gives only its image files")
    out = tmp_path / "cams"
    result = run_cli(
        "predict", str(folder), "--runs-root", str(tiny.run_dir.parent), "--cam", str(out)
    )
    assert result.returncode == 0, result.stderr
    images = sorted(folder.glob("*.png"))
    assert result.stdout.startswith("tiny ")  # the newest finished run under --runs-root
    assert "readme.txt" not in result.stdout + result.stderr
    assert result.stdout.index(str(images[0])) < result.stdout.index(str(images[-1]))
    written = sorted(out.iterdir())
    assert [p.name for p in written] == sorted(f"{p.stem}_cam.png" for p in images)
    with Image.open(written[0]) as picture:
        assert picture.format == "PNG"


def test_predict_exits_2_when_nothing_is_an_image(tmp_path: Path) -> None:
    tiny = tiny_run()
    for name in ("a.png", "b.txt"):
        (tmp_path / name).write_bytes(b"\x89PNG but not really")
    result = run_cli(
        "predict", str(tmp_path / "a.png"), str(tmp_path / "b.txt"), "--run", str(tiny.run_dir)
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and "none of the 2 file(s)" in lines[-1], result.stderr
    assert "Traceback" not in result.stderr


def test_predict_without_any_run_says_what_to_do(tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    Image.new("RGB", (20, 20)).save(image)
    result = run_cli("predict", str(image), "--runs-root", str(tmp_path / "none"))
    assert result.returncode == 2
    assert "--run" in result.stderr and len(result.stderr.strip().splitlines()) == 1
