"""Every loss against a hand computation on a 2-image, 3-class batch."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.config import LOSSES, TrainConfig
from workbench.engine.losses import REGISTRY, build_loss, describe_losses

LOGITS = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 1.0]])
TARGETS = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _softmax_rows() -> list[list[float]]:
    rows = []
    for row in LOGITS.tolist():
        exps = [math.exp(v) for v in row]
        rows.append([e / sum(exps) for e in exps])
    return rows


def _loss(name: str, **options: float) -> float:
    return float(build_loss(TrainConfig(loss=name, **options))(LOGITS, TARGETS))  # type: ignore[arg-type]


def test_registry_matches_config_names_and_explains_each_loss() -> None:
    assert tuple(REGISTRY) == LOSSES
    reasons = describe_losses()
    for name in LOSSES:
        assert reasons[name] and "\n" not in reasons[name]
        assert "help" in reasons[name].lower()


def test_cross_entropy() -> None:
    p = _softmax_rows()
    expected = -(math.log(p[0][0]) + math.log(p[1][1])) / 2
    assert _loss("ce") == pytest.approx(expected, rel=1e-6)
    reference = torch.nn.functional.cross_entropy(LOGITS, TARGETS.argmax(1))
    assert _loss("ce") == pytest.approx(float(reference), rel=1e-6)


def test_label_smoothing() -> None:
    p, eps = _softmax_rows(), 0.1
    total = 0.0
    for row, target in zip(p, ([1, 0, 0], [0, 1, 0]), strict=True):
        soft = [(1 - eps) * t + eps / 3 for t in target]
        total += -sum(s * math.log(q) for s, q in zip(soft, row, strict=True))
    assert _loss("label_smoothing", label_smoothing=eps) == pytest.approx(total / 2, rel=1e-6)


def test_focal() -> None:
    p, gamma = _softmax_rows(), 2.0
    expected = -(
        (1 - p[0][0]) ** gamma * math.log(p[0][0]) + (1 - p[1][1]) ** gamma * math.log(p[1][1])
    )
    assert _loss("focal", focal_gamma=gamma) == pytest.approx(expected / 2, rel=1e-6)
    assert _loss("focal", focal_gamma=0.0) == pytest.approx(_loss("ce"), rel=1e-6)


def test_brier() -> None:
    p = _softmax_rows()
    targets = ([1, 0, 0], [0, 1, 0])
    expected = sum(
        sum((q - t) ** 2 for q, t in zip(row, target, strict=True))
        for row, target in zip(p, targets, strict=True)
    )
    assert _loss("brier") == pytest.approx(expected / 2, rel=1e-6)


@pytest.mark.parametrize("name", LOSSES)
def test_losses_have_gradients_and_prefer_the_right_class(name: str) -> None:
    loss_fn = build_loss(TrainConfig(loss=name))
    logits = torch.zeros(1, 3, requires_grad=True)
    loss = loss_fn(logits, torch.tensor([[0.0, 0.0, 1.0]]))
    loss.backward()
    assert logits.grad is not None
    assert logits.grad[0, 2] < 0  # raising the true class's logit lowers the loss
