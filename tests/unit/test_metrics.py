from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.engine.metrics import MetricAccumulator, classification_metrics, confusion


def test_metrics_match_a_hand_count() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 0])
    m = classification_metrics(y_true, y_pred, 3, loss=0.5)
    assert m.accuracy == pytest.approx(3 / 6)
    # class 0: tp 1, predicted 3, actual 2; class 1: tp 2, predicted 3, actual 2; class 2: 0
    assert m.per_class_precision == pytest.approx((1 / 3, 2 / 3, 0.0))
    assert m.per_class_recall == pytest.approx((1 / 2, 1.0, 0.0))
    assert m.precision == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert m.recall == pytest.approx((0.5 + 1.0) / 3)
    f1 = [2 * p * r / (p + r) if p + r else 0.0 for p, r in [(1 / 3, 0.5), (2 / 3, 1.0)]]
    assert m.f1 == pytest.approx(sum(f1) / 3)
    assert m.loss == 0.5 and m.count == 6
    assert confusion(y_true, y_pred, 3).tolist() == [[1, 1, 0], [0, 2, 0], [2, 0, 0]]


def test_accumulator_weights_losses_by_batch_size_and_round_trips() -> None:
    acc = MetricAccumulator(2)
    acc.update(torch.tensor(1.0), torch.tensor([[2.0, 0.0]] * 3), torch.tensor([[1.0, 0.0]] * 3))
    acc.update(torch.tensor(4.0), torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    m = acc.compute()
    assert m.loss == pytest.approx((3 * 1.0 + 4.0) / 4)
    assert m.accuracy == pytest.approx(3 / 4)
    again = MetricAccumulator.from_state_dict(acc.state_dict())
    assert again.compute() == m
    assert acc.running_loss() == pytest.approx(m.loss)


def test_a_restored_accumulator_lives_on_the_device_training_goes_on_with() -> None:
    """A checkpoint is read onto the CPU; a run resumed mid-epoch on a GPU adds GPU batches to
    the restored sums, and stacking CPU with GPU tensors fails. ("meta" stands in for the GPU.)"""
    acc = MetricAccumulator(2)
    acc.update(torch.tensor(1.0), torch.tensor([[2.0, 0.0]] * 3), torch.tensor([[1.0, 0.0]] * 3))
    meta = torch.device("meta")
    restored = MetricAccumulator.from_state_dict(acc.state_dict(), meta)
    restored.update(
        torch.tensor(4.0, device=meta),
        torch.zeros(1, 2, device=meta),
        torch.zeros(1, 2, device=meta),
    )
    parts = restored._loss_sums + restored._preds + restored._trues
    assert {t.device.type for t in parts} == {"meta"}
    assert torch.stack(restored._loss_sums).shape == (2,)  # what compute() does: no mix
    assert torch.cat(restored._preds).shape == (4,)


def test_test_metrics_match_a_hand_count() -> None:
    """The test report's arithmetic against counts done by hand, not against sklearn (which
    computes it): 7 images, 3 classes, class 2 never predicted."""
    from workbench.engine.evaluate import compute_test_metrics

    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    predictions = np.array([0, 0, 1, 1, 0, 1, 0])
    losses = np.array([0.1, 0.2, 1.5, 0.3, 2.0, 1.0, 3.0], dtype=np.float32)
    m = compute_test_metrics(labels, predictions, losses, ["cat", "dog", "fox"])
    # confusion (rows true): cat 2 1 0 / dog 1 1 0 / fox 1 1 0
    assert m["confusion"] == [[2, 1, 0], [1, 1, 0], [1, 1, 0]]
    assert m["confusion_normalized"][0] == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert m["confusion_normalized"][2] == pytest.approx([0.5, 0.5, 0.0])
    assert m["accuracy"] == pytest.approx(3 / 7)
    assert m["loss"] == pytest.approx(8.1 / 7)
    # cat: tp 2, predicted 4, actual 3; dog: tp 1, predicted 3, actual 2; fox: never predicted
    cat, dog, fox = m["per_class"]
    assert (cat.precision, cat.recall, cat.support) == pytest.approx((2 / 4, 2 / 3, 3))
    assert (dog.precision, dog.recall, dog.support) == pytest.approx((1 / 3, 1 / 2, 2))
    assert (fox.precision, fox.recall, fox.f1) == (0.0, 0.0, 0.0)
    assert cat.f1 == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    assert dog.f1 == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert m["precision"] == pytest.approx((1 / 2 + 1 / 3 + 0) / 3)
    assert m["recall"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    # most confused first: cat->dog 1 (1/3), dog->cat 1 (1/2), fox->cat 1, fox->dog 1 (1/2 each)
    pairs = [(p.true, p.predicted, p.count) for p in m["most_confused"]]
    assert pairs[0][2] == 1 and len(pairs) == 4
    assert [(p.true, p.predicted) for p in m["most_confused"]][:3] == [
        ("dog", "cat"),
        ("fox", "cat"),
        ("fox", "dog"),
    ]
