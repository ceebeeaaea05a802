"""Evaluation: checkpoint loading (safe, with clear mismatches), test metrics vs sklearn,
misclassified ranking, Grad-CAM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from tests.support.tiny_run import damaged_checkpoint, tiny_data, tiny_run, write_tinted_folder
from workbench.engine.data import prepare_data
from workbench.engine.evaluate import (
    Evaluation,
    compute_test_metrics,
    evaluate,
    evaluate_source,
    load_model,
)
from workbench.engine.model import build_model
from workbench.errors import UsageError


def _evaluation() -> Evaluation:
    return evaluate(load_model(tiny_run().run_dir), tiny_data())


def test_predictions_are_the_checkpoint_models_own() -> None:
    evaluation = _evaluation()
    data = tiny_data()
    state = torch.load(tiny_run().run_dir / "checkpoints" / "best.pt", weights_only=True)
    model = build_model(tiny_run().config.model, 3)
    model.load_state_dict(state["model"])
    model.eval()
    test = data.subset_indices("test")
    mean = torch.tensor(state["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(state["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = torch.softmax(model((data.images[test].float() / 255 - mean) / std), 1)
    np.testing.assert_allclose(evaluation.probabilities, expected.numpy(), atol=1e-5)
    assert evaluation.probabilities.sum(axis=1) == pytest.approx(np.ones(len(test)), abs=1e-5)
    assert (evaluation.predictions == evaluation.probabilities.argmax(1)).all()
    picked = evaluation.probabilities[np.arange(len(test)), evaluation.labels]
    np.testing.assert_allclose(evaluation.losses, -np.log(picked), rtol=1e-5)
    assert evaluation.paths == [data.scan.paths[i] for i in test.tolist()]
    assert evaluation.report.checkpoint_epoch == state["epoch"]
    assert evaluation.report.fingerprint_matches


@pytest.mark.parametrize("damaged", [False, True])
def test_metrics_match_sklearn(damaged: bool, tmp_path: Path) -> None:
    if damaged:
        source = damaged_checkpoint(tmp_path / "damaged.pt")
        evaluation = evaluate(load_model(source), tiny_data())
    else:
        evaluation = _evaluation()
    report = evaluation.report
    y, p = evaluation.labels, evaluation.predictions
    assert report.accuracy == pytest.approx(accuracy_score(y, p))
    assert report.confusion == confusion_matrix(y, p, labels=[0, 1, 2]).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(
        y, p, labels=[0, 1, 2], zero_division=0
    )
    for k, row in enumerate(report.per_class):
        assert row.name == ("cats", "dogs", "panda")[k]
        assert (row.precision, row.recall, row.f1) == pytest.approx(
            (precision[k], recall[k], f1[k])
        )
        assert row.support == support[k]
        assert report.confusion_normalized[k][k] == pytest.approx(recall[k])
    assert report.recall == pytest.approx(recall.mean())
    assert report.f1 == pytest.approx(f1.mean())


def test_misclassified_ranked_by_loss_with_all_scores(tmp_path: Path) -> None:
    evaluation = evaluate(load_model(damaged_checkpoint(tmp_path / "d.pt")), tiny_data())
    wrong = evaluation.misclassified
    assert len(wrong) == int((evaluation.predictions != evaluation.labels).sum()) > 0
    assert all(not w.correct for w in wrong)
    losses = [w.loss for w in wrong]
    assert losses == sorted(losses, reverse=True)
    first = wrong[0]
    assert len(first.probabilities) == 3 and sum(first.probabilities) == pytest.approx(1, abs=1e-5)
    assert first.file_name.endswith(".png") and "/" not in first.file_name
    assert [e.prediction for e in evaluation.explanations] == wrong[: len(evaluation.explanations)]


def test_most_confused_pairs_from_counts() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    preds = np.array([0, 1, 1, 1, 0, 2, 1, 0, 0])
    metrics = compute_test_metrics(labels, preds, np.zeros(9), ["a", "b", "c"])
    pairs = [(p.true, p.predicted, p.count) for p in metrics["most_confused"]]
    assert pairs == [("a", "b", 2), ("c", "a", 2), ("b", "a", 1), ("c", "b", 1)]
    assert metrics["most_confused"][0].rate == pytest.approx(2 / 3)


def test_grad_cam_has_the_input_size_and_depends_on_the_class() -> None:
    evaluation = _evaluation()
    maps = [evaluation.explain(0, c) for c in range(3)]
    for cam in maps:
        assert cam.shape == (64, 64)
        assert cam.min() >= 0 and cam.max() <= 1
    assert any(not np.allclose(maps[0], other) for other in maps[1:])


def test_explanations_cover_true_and_predicted_class(tmp_path: Path) -> None:
    evaluation = evaluate(load_model(damaged_checkpoint(tmp_path / "d.pt")), tiny_data())
    assert evaluation.explanations
    item = evaluation.explanations[0]
    p = item.prediction
    np.testing.assert_allclose(item.cam_true, evaluation.explain(p.position, p.true), atol=1e-5)
    np.testing.assert_allclose(
        item.cam_predicted, evaluation.explain(p.position, p.predicted), atol=1e-5
    )


def test_evaluate_source_prepares_the_runs_own_data() -> None:
    run = tiny_run()
    evaluation = evaluate_source(run.run_dir, cache_dir=str(run.cache_dir))
    assert evaluation.report.accuracy == _evaluation().report.accuracy
    assert evaluation.report.run_id == "tiny"


def test_other_architecture_is_one_clear_line(tmp_path: Path) -> None:
    state = torch.load(tiny_run().run_dir / "checkpoints" / "best.pt", weights_only=True)
    state["config"]["model"]["widths"] = [8, 32]
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(UsageError, match=r"another architecture: .* in the checkpoint") as caught:
        load_model(tmp_path / "other.pt")
    assert "\n" not in str(caught.value)
    del state["model"]["head.bias"]
    state["config"]["model"]["widths"] = [8, 16]
    torch.save(state, tmp_path / "missing.pt")
    with pytest.raises(UsageError, match="another architecture: 1 tensor"):
        load_model(tmp_path / "missing.pt")


def test_other_classes_is_one_clear_line(tmp_path: Path) -> None:
    folder = write_tinted_folder(tmp_path / "other", classes=("ant", "bee", "cow", "dog"))
    config = tiny_run().config.data
    other = prepare_data(
        type(config)(data=str(folder), image_size=64, cache_dir=str(tmp_path / "cache"))
    )
    with pytest.raises(UsageError, match=r"other classes: the checkpoint knows 3 \(cats, dogs"):
        evaluate(load_model(tiny_run().run_dir), other)


class _Exploit:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))  # type: ignore[return-value]


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"model": _Exploit(marker)}, evil)
    with pytest.raises(UsageError, match="refused"):
        load_model(evil)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a checkpoint at all", "not a checkpoint"),
        (b"", "not a checkpoint"),
    ],
)
def test_not_a_checkpoint(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        load_model(path)


def test_plain_tensor_file_and_missing_paths(tmp_path: Path) -> None:
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.pt")
    with pytest.raises(UsageError, match="not a workbench checkpoint"):
        load_model(tmp_path / "plain.pt")
    with pytest.raises(UsageError, match="no such run directory or checkpoint"):
        load_model(tmp_path / "nope.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="neither a run directory"):
        load_model(tmp_path / "empty")
