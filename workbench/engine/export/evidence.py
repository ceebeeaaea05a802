"""Written explanations drafted from a run's own evidence, for the student to edit.

The notebook's part (g) explains the misclassified images and part (k) the loss comparison.
These functions turn what the evaluation measured into sentences; they never praise, and every
number in them comes from the evaluation or the runs they are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workbench.engine.evaluate import Evaluation

CONFIDENT = 0.9
"""An error made with at least this probability is called confident."""
CENTRE_SHARE = 0.5
"""Grad-CAM counts as on the object when at least this share of it lies in the central box."""


def _centre_share(cam: np.ndarray) -> float:
    """Share of a Grad-CAM map's mass inside the central half (by side) of the image."""
    total = float(cam.sum())
    if total <= 0:
        return 0.0
    height, width = cam.shape
    top, left = height // 4, width // 4
    return float(cam[top : height - top, left : width - left].sum()) / total


def _overlap(first: np.ndarray, second: np.ndarray) -> float:
    """Cosine similarity of two maps: 1 when both classes' evidence sits in the same place."""
    a, b = first.ravel(), second.ravel()
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm > 0 else 0.0


def error_analysis_markdown(evaluation: Evaluation) -> str:
    """Markdown: which classes are confused (with counts), how confident the errors are, the
    images with the highest loss (likely label noise or atypical images) and where Grad-CAM
    falls for the worst errors."""
    report = evaluation.report
    wrong = evaluation.misclassified
    if not wrong:
        return (
            f"All {report.count} test images are classified correctly: there is no error to "
            "explain on this split."
        )
    classes = evaluation.classes
    lines = [
        f"**{len(wrong)} of {report.count} test images are misclassified** "
        f"(accuracy {report.accuracy:.1%}).",
        "",
        "*Which classes are confused.* "
        + "; ".join(
            f"{pair.true} → {pair.predicted}: {pair.count} ({pair.rate:.0%} of {pair.true})"
            for pair in report.most_confused[:4]
        )
        + ".",
    ]
    confidence = np.array([p.probabilities[p.predicted] for p in wrong])
    confident = int((confidence >= CONFIDENT).sum())
    lines += [
        "",
        f"*How sure the model is when wrong.* The wrong class gets a median probability of "
        f"{float(np.median(confidence)):.2f}; {confident} of the {len(wrong)} errors are made "
        f"with p ≥ {CONFIDENT}. "
        + (
            "Confident errors point at images that look typical of the other class (or at "
            "wrong labels); hesitant ones at images the model finds ambiguous."
            if confident
            else "The errors are hesitant: the model finds these images ambiguous rather than "
            "typical of the other class."
        ),
        "",
        "*Highest loss first (candidates for label noise or atypical images; look at them):* "
        + ", ".join(
            f"`{p.file_name}` (labelled {classes[p.true]}, p({classes[p.true]}) = "
            f"{p.probabilities[p.true]:.3f})"
            for p in wrong[:3]
        )
        + ".",
    ]
    lines += ["", _gradcam_sentence(evaluation)]
    lines += [
        "",
        "_Drafted by `workbench notebook` from this run's numbers: check it against the "
        "pictures above and rewrite it in your own words._",
    ]
    return "\n".join(lines)


def _gradcam_sentence(evaluation: Evaluation) -> str:
    explained = evaluation.explanations
    if not explained:
        return "*Grad-CAM:* no explanation was computed."
    centred = sum(_centre_share(e.cam_predicted) >= CENTRE_SHARE for e in explained)
    overlap = float(np.mean([_overlap(e.cam_true, e.cam_predicted) for e in explained]))
    where = (
        "mostly on the centre of the image, where the animal usually is"
        if centred * 2 >= len(explained)
        else "mostly away from the centre (background, borders or context)"
    )
    same = (
        "the evidence for the true and the predicted class lies in the same places, so the "
        "model looks at the animal but reads its features as the other class"
        if overlap >= 0.5
        else "the evidence for the true and the predicted class lies in different places, so "
        "the model is led by a different part of the image than the one that shows the class"
    )
    return (
        f"*Where Grad-CAM falls.* For the {len(explained)} worst errors, the evidence for the "
        f"predicted class lies {where} ({centred} of {len(explained)} maps have at least "
        f"{CENTRE_SHARE:.0%} of their mass in the central box); on average {same} (mean "
        f"similarity of the two maps {overlap:.2f})."
    )


@dataclass(frozen=True)
class LossResult:
    """One loss of the comparison: its best validation accuracy and, if known, the test's."""

    loss: str
    run_id: str
    best_val_accuracy: float
    test_accuracy: float | None = None


def loss_comparison_markdown(
    results: Sequence[LossResult], reasons: dict[str, str], val_images: int
) -> str:
    """Markdown: why each loss was tried (``reasons``: loss -> one line) and which won on
    validation (the test split decides nothing); ``val_images`` sizes the noise."""
    ranked = sorted(results, key=lambda r: -r.best_val_accuracy)
    lines = ["Why each loss was tried:", ""]
    lines += [f"- **{r.loss}**: {reasons.get(r.loss, 'no description')}" for r in results]
    best = ranked[0]
    lines += [
        "",
        f"On validation, **{best.loss}** did best ({best.best_val_accuracy:.1%}, run "
        f"`{best.run_id}`), "
        + ", ".join(f"then {r.loss} ({r.best_val_accuracy:.1%})" for r in ranked[1:])
        + f". With {val_images} validation images one standard deviation is about "
        f"{_val_sd(best.best_val_accuracy, val_images):.1f} points, so a gap smaller than "
        "about two of those is within noise: repeat with another seed before concluding.",
    ]
    return "\n".join(lines)


def _val_sd(accuracy: float, images: int) -> float:
    """Standard deviation in points of an accuracy measured on ``images`` images."""
    return 100 * float(np.sqrt(max(accuracy * (1 - accuracy), 1e-6) / max(images, 1)))
