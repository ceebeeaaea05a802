"""Q1/Q2 figure functions and Markdown: the figures the PNGs are saved from, a graph whose edges
go round the boxes, Markdown that renders as a Jupyter cell, and the numbers of the added
cases checked against PyTorch itself."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Annotation, Text
from PIL import Image

import workbench.engine.export.autograd as autograd_export
from workbench.engine.autograd import AutogradTrace
from workbench.engine.autograd.trace import trace_expression
from workbench.engine.backprop_demo import backprop_report, float32_limits, vanishing_cases
from workbench.engine.export import save_figure
from workbench.engine.export.autograd import (
    GRAPH_PNG,
    autograd_check_markdown,
    autograd_check_text,
    autograd_graph_figure,
    autograd_steps_markdown,
    write_autograd_graph,
    zero_exponent_notes,
)
from workbench.engine.export.backprop import (
    VANISHING_PNG,
    backprop_check_markdown,
    backprop_derivation_markdown,
    backprop_markdown,
    vanishing_cases_markdown,
    vanishing_gradient_figure,
    write_vanishing_gradient,
)

EXPRESSIONS = [
    ("0.1,0,0.2,1", "-1,1,-1,0", None),
    ("0,-1", "1,2", "log(x) / z + 2 / x"),
    ("0.5,2,0", "1,2,3", "(x - z) ** x / (z % 2 + sin(x*z))"),
    ("1,2", "3,4", "x * z + x ** 2 - z / x + exp(-x) * z"),
]


def _trace(x: str, z: str, expression: str | None) -> AutogradTrace:
    return trace_expression(x, z) if expression is None else trace_expression(x, z, expression)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))


# --------------------------------------------------------------------------- figures


def test_figure_functions_return_figures_the_writers_save(tmp_path: Path) -> None:
    trace = trace_expression()
    graph, vanishing = autograd_graph_figure(trace), vanishing_gradient_figure()
    assert isinstance(graph, Figure) and isinstance(vanishing, Figure)
    (tmp_path / "fn").mkdir()
    write_autograd_graph(trace, tmp_path)
    write_vanishing_gradient(tmp_path)
    save_figure(graph, tmp_path / "fn" / GRAPH_PNG)
    save_figure(vanishing, tmp_path / "fn" / VANISHING_PNG)
    for name in (GRAPH_PNG, VANISHING_PNG):
        written, direct = _pixels(tmp_path / name), _pixels(tmp_path / "fn" / name)
        assert written.shape == direct.shape and np.array_equal(written, direct), name


def _saved_graph(trace: AutogradTrace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Figure:
    """The Figure ``write_autograd_graph`` saves (whatever builds it), drawn at the saved dpi."""
    saved: list[Figure] = []
    real = autograd_export.save_figure

    def capture(figure: Figure, destination: Any, dpi: int = 150) -> Path:
        saved.append(figure)
        return real(figure, destination, dpi=dpi)

    monkeypatch.setattr(autograd_export, "save_figure", capture)
    write_autograd_graph(trace, tmp_path)
    (figure,) = saved
    figure.set_dpi(150)
    figure.canvas.draw()
    return figure


def _boxes(figure: Figure) -> list[tuple[float, float, float, float]]:
    """Node boxes in display pixels (x0, y0, x1, y1)."""
    boxes = []
    for axes in figure.axes:
        for patch in axes.patches:
            if isinstance(patch, FancyBboxPatch):
                extent = patch.get_window_extent()
                boxes.append((extent.x0, extent.y0, extent.x1, extent.y1))
    return boxes


def _arrows(figure: Figure) -> list[np.ndarray]:
    """Every arrow's outline as points in display pixels, curves flattened, ~1 px apart."""
    arrows: list[FancyArrowPatch] = []
    for axes in figure.axes:
        arrows += [p for p in axes.patches if isinstance(p, FancyArrowPatch)]
        arrows += [t.arrow_patch for t in axes.texts if isinstance(t, Annotation) and t.arrow_patch]
    outlines = []
    for arrow in arrows:
        path = arrow.get_transform().transform_path(arrow.get_path())
        points: list[np.ndarray] = []
        for polygon in path.to_polygons(closed_only=False):
            for a, b in itertools.pairwise(polygon):
                steps = max(2, int(np.hypot(*(b - a))) + 1)
                points.append(a + np.linspace(0, 1, steps)[:, None] * (b - a))
        outlines.append(np.concatenate(points))
    return outlines


def _inside(points: np.ndarray, box: tuple[float, float, float, float], margin: float) -> bool:
    x0, y0, x1, y1 = box
    hit = (
        (points[:, 0] > x0 + margin)
        & (points[:, 0] < x1 - margin)
        & (points[:, 1] > y0 + margin)
        & (points[:, 1] < y1 - margin)
    )
    return bool(hit.any())


@pytest.mark.parametrize(("x", "z", "expression"), EXPRESSIONS)
def test_no_edge_passes_through_another_box(
    x: str, z: str, expression: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figure = _saved_graph(_trace(x, z, expression), tmp_path, monkeypatch)
    boxes, arrows = _boxes(figure), _arrows(figure)
    assert len(boxes) >= 5 and len(arrows) >= 4
    for outline in arrows:
        start, end = outline[0], outline[-1]

        def distance(box: tuple[float, float, float, float], point: np.ndarray) -> float:
            dx = max(box[0] - point[0], 0.0, point[0] - box[2])
            dy = max(box[1] - point[1], 0.0, point[1] - box[3])
            return math.hypot(dx, dy)

        own = {
            min(range(len(boxes)), key=lambda i, p=p: distance(boxes[i], p)) for p in (start, end)
        }
        others = [box for i, box in enumerate(boxes) if i not in own]
        crossed = [box for box in others if _inside(outline, box, margin=1.0)]
        assert not crossed, f"an edge from {start} to {end} passes through a box at {crossed[0]}"


@pytest.mark.parametrize(("x", "z", "expression"), EXPRESSIONS)
def test_graph_text_is_readable_and_clear_of_other_boxes(
    x: str, z: str, expression: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figure = _saved_graph(_trace(x, z, expression), tmp_path, monkeypatch)
    boxes = _boxes(figure)
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    texts: list[Text] = [*figure.texts, *(t for a in figure.axes for t in a.texts)]
    assert all(t.get_fontsize() >= 9 for t in texts if t.get_text())
    labels = [t for t in texts if str(t.get_gid()).startswith("label:")]
    assert labels or expression is not None  # the assignment labels base and exponent
    for text in texts:
        if not text.get_text():
            continue
        extent = text.get_window_extent(renderer)
        rect = (extent.x0, extent.y0, extent.x1, extent.y1)
        anchor = text.get_transform().transform(text.get_position())
        home = [b for b in boxes if b[0] <= anchor[0] <= b[2] and b[1] <= anchor[1] <= b[3]]
        if home and text not in labels:  # a node's line: inside its own box
            (box,) = home
            assert box[0] - 1 <= rect[0] and rect[2] <= box[2] + 1, text.get_text()
            assert box[1] - 1 <= rect[1] and rect[3] <= box[3] + 1, text.get_text()
        else:  # an edge label or the title: outside every box
            for box in boxes:
                clear = rect[2] <= box[0] or box[2] <= rect[0] or rect[3] <= box[1]
                assert clear or box[3] <= rect[1], f"{text.get_text()!r} overlaps a box"


# --------------------------------------------------------------------------- Markdown


_PIPE = re.compile(r"(?<!\\)\|")
_DELIMITER = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+$")


def _assert_tables_well_formed(markdown: str) -> int:
    """Every GFM table: a header, a delimiter row, rows with as many unescaped ``|`` as the
    header; math delimiters balanced on every line. Returns the number of tables."""
    tables, block = 0, []
    for line in [*markdown.split("\n"), ""]:
        assert len(re.findall(r"(?<!\\)\$", line)) % 2 == 0, f"unbalanced $ in {line!r}"
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            tables += 1
            header, delimiter, *rows = block
            assert _DELIMITER.match(delimiter), delimiter
            width = len(_PIPE.findall(header))
            assert len(_PIPE.findall(delimiter)) == width
            for row in rows:
                assert len(_PIPE.findall(row)) == width, f"{width} cells expected: {row}"
            block = []
    return tables


def test_markdown_tables_are_well_formed() -> None:
    report = backprop_report(trials=2)
    assert any("|" in case.title for case in report.cases)  # a cell that needs escaping
    assert _assert_tables_well_formed(backprop_derivation_markdown(report)) == 1
    assert _assert_tables_well_formed(backprop_check_markdown(report)) == 1
    assert _assert_tables_well_formed(vanishing_cases_markdown(report)) == 1
    assert _assert_tables_well_formed(backprop_markdown(report)) == 3
    for x, z, expression in EXPRESSIONS:
        trace = _trace(x, z, expression)
        assert _assert_tables_well_formed(autograd_steps_markdown(trace)) == 3
        assert _assert_tables_well_formed(autograd_check_markdown(trace)) == 1


def _parsed_tables(markdown: str) -> list[list[list[str]]]:
    """The tables a CommonMark + GFM-table parser (markdown-it, as Jupyter's renderers do)
    finds: rows of cell texts, the header first."""
    markdown_it = pytest.importorskip("markdown_it")
    tables: list[list[list[str]]] = []
    for token in markdown_it.MarkdownIt("commonmark").enable("table").parse(markdown):
        if token.type == "table_open":
            tables.append([])
        elif token.type == "tr_open":
            tables[-1].append([])
        elif token.type == "inline" and tables and token.level >= 4:
            tables[-1][-1].append(token.content)
    return tables


def test_a_markdown_parser_sees_every_cell() -> None:
    report = backprop_report(trials=2)
    tables = _parsed_tables(backprop_markdown(report))
    assert len(tables) == 3
    for table in tables:
        assert len({len(row) for row in table}) == 1, table[0]
    cases = tables[2]
    assert len(cases) == len(report.cases) + 1
    assert [row[0] for row in cases[1:]] == [case.title for case in report.cases]
    trace = trace_expression()
    steps = _parsed_tables(autograd_steps_markdown(trace))
    rows = [len(trace.forward), sum(len(step.locals) for step in trace.backward)]
    assert [len(t) - 1 for t in steps] == [*rows, len(trace.check.rows)]
    for table in steps:
        assert len({len(row) for row in table}) == 1, table[0]


def test_derivation_is_latex_and_names_the_tss_typo() -> None:
    text = backprop_derivation_markdown(backprop_report(trials=1))
    assert r"$$\Delta w_{11} = \eta\,(t_1 - o_1)\,o_1\,(1 - o_1)\,x_1 = " in text
    assert r"\sigma'(\mathrm{net}_1) = o_1(1 - o_1)" in text
    assert "$(t_2 - o_2)^2$" in text and "$(t_0 - o_0)^2$" in text


# --------------------------------------------------------------------------- Q2 cases


def _delta_w11_autograd(net1: float, x1: float, t1: float, eta: float) -> float:
    """Δw11 = −η ∂E/∂w11 by PyTorch in float64, with w11·x1 = net1 (no bias)."""
    w11 = torch.tensor(net1 / x1, dtype=torch.float64, requires_grad=True)
    o1 = torch.sigmoid(w11 * x1)
    (0.5 * (t1 - o1) ** 2).backward()
    assert w11.grad is not None
    return -eta * float(w11.grad)


def test_saturation_cases_match_autograd() -> None:
    cases = {case.key: case for case in vanishing_cases()}
    low = cases["o1_to_zero"]
    assert low.o1 < 1e-4 and low.o1 == pytest.approx(float(torch.sigmoid(torch.tensor(-10.0))))
    assert low.net1 < 0 and low.error > 0.99
    for key in ("o1_to_zero", "large_input", "saturation", "wrong_side"):
        case = cases[key]
        expected = _delta_w11_autograd(case.net1, case.x1, case.t1, case.eta)
        assert case.delta_w11 == pytest.approx(expected, rel=1e-9), key
        assert abs(case.delta_w11) < cases["baseline"].delta_w11 / 100
    assert cases["large_input"].x1 >= 50  # a large input, yet a vanishing update
    causes = cases["saturation"].explanation
    assert "weights are large" in causes and "inputs" in causes


def _float32_slope(net: float) -> float:
    value = torch.tensor(net, dtype=torch.float32, requires_grad=True)
    torch.sigmoid(value).backward()
    assert value.grad is not None
    return float(value.grad)


def test_float32_case_is_where_pytorch_rounds_the_slope_to_zero() -> None:
    case = next(case for case in vanishing_cases() if case.key == "float32")
    limits = float32_limits()
    below = float(np.nextafter(np.float32(limits.high), np.float32(0)))
    assert _float32_slope(limits.high) == 0.0 and _float32_slope(below) > 0.0  # the first 0
    assert limits.below_high == below and math.exp(-limits.high) <= 2.0**-24
    assert case.net1 >= limits.high and _float32_slope(case.net1) == 0.0
    assert float(torch.sigmoid(torch.tensor(case.net1))) == 1.0
    assert case.o1 == 1.0 and case.slope == 0.0
    w11 = torch.tensor(case.net1, dtype=torch.float32, requires_grad=True)
    (0.5 * (case.t1 - torch.sigmoid(w11 * case.x1)) ** 2).backward()
    assert w11.grad is not None and case.delta_w11 == -case.eta * float(w11.grad) == 0.0
    float64 = _delta_w11_autograd(case.net1, case.x1, case.t1, case.eta)
    assert float64 != 0.0 and f"{float64:.3g}" in case.explanation
    assert f"from net1 = {limits.high:.9g} on" in case.explanation
    low = torch.tensor([limits.low, float(np.nextafter(np.float32(limits.low), 0))])
    assert torch.sigmoid(low).tolist()[0] == 0.0 and torch.sigmoid(low).tolist()[1] > 0.0
    assert f"below net1 = {limits.low:.9g}" in case.explanation


# --------------------------------------------------------------------------- Q1 element 2


def test_zero_exponent_sentence_for_the_assignment() -> None:
    trace = trace_expression()
    x = torch.tensor([0.1, 0.0, 0.2, 1.0], requires_grad=True)
    z = torch.tensor([-1.0, 1.0, -1.0, 0.0], requires_grad=True)
    ((((x + 10 % 4 + z) ** (4 * x)) + 3) * 5).mean().backward()
    assert x.grad is not None and z.grad is not None
    assert float(z.grad[1]) == 0.0
    assert float(x.grad[1]) == pytest.approx(5 * math.log(3), rel=1e-6)
    (note,) = zero_exponent_notes(trace)
    assert note.startswith("Element 2 (index 1) is special: the exponent 4x is 0")
    assert "b = a^0 = 1 whatever a is (here a = 3)" in note
    assert f"= {float(x.grad[1]):.6g} = 5·ln 3" in note
    assert "z.grad[1] = 0 (z reaches y only through the base a)" in note
    assert note in autograd_check_markdown(trace) and note in autograd_check_text(trace)
    assert note in autograd_steps_markdown(trace)


def test_zero_exponent_sentence_follows_the_inputs() -> None:
    none = trace_expression("0.1,0.3,0.2,1", "-1,1,-1,0")
    assert zero_exponent_notes(none) == ()
    assert "is special" not in autograd_check_markdown(none)
    assert "is special" not in autograd_check_text(none)
    moved = trace_expression("0.5,0.1,0,2", "1,1,2,1")  # exponent 0 at index 2, a = 4
    (note,) = zero_exponent_notes(moved)
    assert note.startswith("Element 3 (index 2)") and "5·ln 4" in note
    assert math.isclose(moved.x_grad[2], 5 * math.log(4), rel_tol=1e-6)
