"""The predict engine: images prepared as validation prepares them, EXIF applied, entropy."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from tests.support.tiny_run import tiny_data, tiny_run
from workbench.engine.evaluate import load_model
from workbench.engine.predict import (
    LOW_CONFIDENCE,
    ImagePrediction,
    Unreadable,
    expand_inputs,
    predict_files,
    prepare_image,
)

EXIF_ORIENTATION = 0x0112
ROTATED_90_CW = 6
"""EXIF orientation 6: the stored pixels must be turned 90° clockwise to be upright."""


def _two_colour_image() -> Image.Image:
    """Wider than high, red left and blue right: any rotation changes it."""
    pixels = np.zeros((32, 48, 3), dtype=np.uint8)
    pixels[:, :24, 0] = 255
    pixels[:, 24:, 2] = 255
    pixels[:8, :, 1] = 200
    return Image.fromarray(pixels)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    loaded = load_model(tiny_run().run_dir)
    stored = _two_colour_image()
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATED_90_CW
    stored.save(tmp_path / "tagged.png", exif=exif)
    stored.save(tmp_path / "untagged.png")
    stored.transpose(Image.Transpose.ROTATE_270).save(tmp_path / "upright.png")  # 90° clockwise
    tagged = prepare_image(loaded, tmp_path / "tagged.png")
    assert np.array_equal(tagged, prepare_image(loaded, tmp_path / "upright.png"))
    assert not np.array_equal(tagged, prepare_image(loaded, tmp_path / "untagged.png"))


def test_prepared_like_the_data_sets_images() -> None:
    tiny, data = tiny_run(), tiny_data()
    loaded = load_model(tiny.run_dir)
    for index in (0, len(data.scan.paths) - 1):
        path = tiny.data_dir / data.scan.paths[index]
        assert np.array_equal(prepare_image(loaded, path), data.images[index].numpy())


def test_folders_expand_to_their_images_sorted_and_results_keep_order(tmp_path: Path) -> None:
    for name in ("b.png", "a.jpg", "c.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"")
    Image.new("RGB", (20, 20), "red").save(tmp_path / "b.png")
    Image.new("RGB", (20, 20), "blue").save(tmp_path / "a.jpg")
    files = expand_inputs([tmp_path, tmp_path / "c.txt"])
    assert [p.name for p in files] == ["a.jpg", "b.png", "c.txt"]
    results = predict_files(load_model(tiny_run().run_dir), files)
    assert [type(r) for r in results] == [ImagePrediction, ImagePrediction, Unreadable]
    assert [r.file for r in results] == [str(p) for p in files]


def test_low_confidence_near_maximum_entropy() -> None:
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    even = ImagePrediction("x", (1 / 3, 1 / 3, 1 / 3), image)
    sure = ImagePrediction("x", (0.98, 0.01, 0.01), image)
    assert math.isclose(even.entropy, math.log(3)) and even.low_confidence
    assert not sure.low_confidence and sure.relative_entropy < LOW_CONFIDENCE
