"""The Autograd screen's step panels: a number is never broken across lines, however narrow."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from workbench.engine.autograd import AutogradTrace
from workbench.engine.autograd.trace import trace_expression
from workbench.render.autograd import fmt, step_panel, steps_of

NUMBER = re.compile(r"-?\d[\d.]*(?:e[+-]?\d+)?")


@pytest.fixture(scope="module")
def large() -> AutogradTrace:
    """Inputs whose gradients run to five digits and exponents (``1.028e+04``)."""
    return trace_expression(x="3, -2.5, 0.75, 2.9", z="4, 1, -1, 7")


def _lines(renderable: object, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


def _numbers_of(trace: AutogradTrace) -> set[str]:
    """Every number a backward panel shows, as the renderer formats it (the trace's values)."""
    shown = set()
    for step in trace.backward:
        for local in step.locals:
            for values in (step.upstream, local.local, local.contribution, local.accumulated):
                shown.update(fmt(v) for v in values or ())
    return shown


@pytest.mark.parametrize("width", [30, 46, 60, 100])
def test_backward_numbers_are_whole_at_any_width(large: AutogradTrace, width: int) -> None:
    steps = steps_of(large)
    expected = _numbers_of(large)
    assert any("e+" in n for n in expected), "the inputs should give an exponent"
    seen: set[str] = set()
    for position, step in enumerate(steps):
        if step.backward is None:
            continue
        for line in _lines(step_panel(large, steps, position), width):
            assert len(line) <= width
            seen.update(NUMBER.findall(line))
    missing = {n for n in expected if n.lstrip("-") not in {s.lstrip("-") for s in seen}}
    assert missing == set(), f"numbers cut or lost at {width} columns: {sorted(missing)}"


def test_a_wide_panel_is_a_table_and_a_narrow_one_a_line_per_element(large: AutogradTrace) -> None:
    steps = steps_of(large)
    position = next(i for i, s in enumerate(steps) if s.backward is not None)
    wide = _lines(step_panel(large, steps, position), 100)
    narrow = _lines(step_panel(large, steps, position), 30)
    assert any(line.split()[:2] == ["i", "upstream"] for line in wide if line.split())
    assert any(line.startswith("i=0") for line in narrow)
