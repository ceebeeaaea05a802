"""Q1/Q2 artefacts: each file is written (atomically) and makes sense."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from workbench.engine.autograd.trace import trace_expression
from workbench.engine.export import format_values
from workbench.engine.export.autograd import (
    CHECK_TXT,
    GRAPH_DOT,
    GRAPH_PNG,
    STEPS_MD,
    write_autograd_artefacts,
    write_autograd_check,
)
from workbench.engine.export.backprop import (
    DERIVATION_MD,
    VANISHING_PNG,
    write_backprop_artefacts,
)


def _png_ok(path: Path) -> None:
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 300 and image.height > 200


def test_autograd_artefacts(tmp_path: Path) -> None:
    trace = trace_expression()
    written = write_autograd_artefacts(trace, tmp_path)
    assert sorted(p.name for p in written) == sorted([GRAPH_PNG, GRAPH_DOT, STEPS_MD, CHECK_TXT])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)
    _png_ok(tmp_path / GRAPH_PNG)
    dot = (tmp_path / GRAPH_DOT).read_text(encoding="utf-8")
    assert dot.startswith("digraph autograd {") and "PowBackward1" in dot and "->" in dot
    steps = (tmp_path / STEPS_MD).read_text(encoding="utf-8")
    assert "## Forward pass" in steps and "## Backward pass" in steps
    assert "∂b/∂a = 4x·a^(4x−1)" in steps and "∂b/∂(4x) = a^(4x)·ln a" in steps
    assert "10%4" in steps and "| c = (b + 3)·5 |" in steps
    check = (tmp_path / CHECK_TXT).read_text(encoding="utf-8")
    assert "verdict: AGREE" in check and "rtol = 0.0001" in check
    assert "x.grad (PyTorch)     = [0.96727842, 5.4930615, 2.0189514, 579.93799]" in check


def test_undefined_trace_exports(tmp_path: Path) -> None:
    trace = trace_expression("0,-1", "1,2", "log(x) / z + 2 / x")
    write_autograd_artefacts(trace, tmp_path)
    assert "log(0)" in (tmp_path / STEPS_MD).read_text(encoding="utf-8")
    assert "ReciprocalBackward0" in (tmp_path / GRAPH_DOT).read_text(encoding="utf-8")
    _png_ok(tmp_path / GRAPH_PNG)


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.engine.export.autograd as module

    def boom(trace: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "autograd_check_text", boom)
    with pytest.raises(RuntimeError):
        write_autograd_check(trace_expression(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_backprop_artefacts(tmp_path: Path) -> None:
    written = write_backprop_artefacts(tmp_path)
    assert [p.name for p in written] == [DERIVATION_MD, VANISHING_PNG]
    _png_ok(tmp_path / VANISHING_PNG)
    text = (tmp_path / DERIVATION_MD).read_text(encoding="utf-8")
    assert r"\sigma'(\mathrm{net}_1) = o_1(1 - o_1)" in text
    assert r"\Delta w_{11} = -\eta\,\frac{\partial E}{\partial w_{11}}" in text
    assert "agree" in text and "wrong-side saturation" in text
    assert "saturation: \\|net1\\| large" in text  # escaped: a table cell


def test_format_values() -> None:
    assert format_values((0.1, 0.0, 0.2, 1.0)) == "[0.1, 0, 0.2, 1]"
    assert format_values((120.2449,)) == "120.2"
    assert format_values(None) == "–"
