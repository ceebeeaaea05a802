"""Classify any image with a trained run: the class demo's engine (``workbench predict``, the
Demo screen).

Each file is read and prepared by the very function that decodes the data set for training and
evaluation (:func:`workbench.engine.sources.decode_image`: EXIF orientation, RGB, the run's size
and resize mode) and normalised and predicted by :func:`workbench.engine.evaluate.predict`, so a
test image gets the probabilities ``eval`` computes for it. A file that cannot be read is
returned as :class:`Unreadable` with its one-line reason and the others go on.

An image unlike the training data still gets a class; :data:`LOW_CONFIDENCE` says when its
probabilities are spread so evenly (entropy near its maximum) that the answer means little.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.engine.evaluate import LoadedModel, explain_images, predict
from workbench.engine.progress import ProgressFn, report
from workbench.engine.sources import ImageProblem, Source, decode_image

LOW_CONFIDENCE = 0.8
"""A prediction whose entropy is at least this fraction of its maximum (log C, all classes
equally likely) is flagged as low confidence: the model is close to guessing."""


@dataclass(frozen=True)
class ImagePrediction:
    """One image's softmax scores, as the model saw it."""

    file: str
    probabilities: tuple[float, ...]
    image: np.ndarray
    """uint8 (S, S, 3): the image at the run's size, before normalisation."""

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.predicted])

    @property
    def entropy(self) -> float:
        """Shannon entropy of the probabilities, in nats."""
        return float(-sum(p * math.log(p) for p in self.probabilities if p > 0))

    @property
    def relative_entropy(self) -> float:
        """Entropy / log C: 0 for a certain answer, 1 for all classes equally likely."""
        count = len(self.probabilities)
        return self.entropy / math.log(count) if count > 1 else 0.0

    @property
    def low_confidence(self) -> bool:
        return self.relative_entropy >= LOW_CONFIDENCE

    def to_dict(self, classes: Sequence[str]) -> dict[str, Any]:
        """The JSON form: file, probabilities by class, prediction, confidence, entropy."""
        return {
            "file": self.file,
            "probabilities": dict(zip(classes, self.probabilities, strict=True)),
            "prediction": classes[self.predicted],
            "confidence": self.confidence,
            "entropy": self.entropy,
            "relative_entropy": self.relative_entropy,
            "low_confidence": self.low_confidence,
        }


@dataclass(frozen=True)
class Unreadable:
    """A file given to predict that is not an image it can use, and why."""

    file: str
    reason: str


@cache
def image_suffixes() -> frozenset[str]:
    """File name endings PIL can open (``.jpg``, ``.png``, ``.webp``...): what a folder
    contributes."""
    from PIL import Image

    return frozenset(suffix.lower() for suffix in Image.registered_extensions())


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files as given, and each folder's image files (by name, not hidden), sorted."""
    out: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            out += folder_images(path)
        else:
            out.append(path)
    return out


def folder_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (by suffix, hidden ones left out), sorted."""
    return sorted(
        p
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.suffix.lower() in image_suffixes() and p.is_file()
    )


def prepare_image(loaded: LoadedModel, path: Path) -> np.ndarray:
    """The file as the model's validation input before normalisation: uint8 (3, S, S), decoded
    and resized exactly as the data set's images; raises ImageProblem."""
    size, mode = loaded.image_size, loaded.config.data.resize
    return decode_image(Source(str(path.parent.resolve()), False), path.name, size, mode)


def predict_files(
    loaded: LoadedModel, files: Sequence[Path], progress: ProgressFn | None = None
) -> list[ImagePrediction | Unreadable]:
    """Predict every file, in the given order; unreadable ones say why."""
    decoded: list[tuple[int, np.ndarray]] = []
    results: list[ImagePrediction | Unreadable | None] = [None] * len(files)
    for index, path in enumerate(files):
        try:
            decoded.append((index, prepare_image(loaded, path)))
        except ImageProblem as problem:
            results[index] = Unreadable(str(path), str(problem))
        report(progress, "reading images", index + 1, len(files))
    if decoded:
        batch = torch.from_numpy(np.stack([image for _, image in decoded]))
        probabilities = predict(loaded, batch, progress)
        for (index, image), row in zip(decoded, probabilities, strict=True):
            results[index] = ImagePrediction(
                str(files[index]),
                tuple(float(p) for p in row),
                np.ascontiguousarray(image.transpose(1, 2, 0)),
            )
    return [result for result in results if result is not None]


def explain(loaded: LoadedModel, prediction: ImagePrediction, class_index: int) -> np.ndarray:
    """Grad-CAM (S, S) in [0, 1] of the image for ``class_index``: where its evidence is."""
    return explain_images(loaded, prediction.image[None], [class_index])[0]
