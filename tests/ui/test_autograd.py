"""The Autograd screen (Q1): stepping to the comparison, editing inputs, bad input, snapshot."""

from __future__ import annotations

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tests.ui.helpers import workers_done
from workbench.screens.autograd import AutogradScreen


def _text(widget: Static, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


async def _ready(app, pilot: Pilot) -> AutogradScreen:  # type: ignore[no-untyped-def]
    await workers_done(pilot)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, AutogradScreen)
    assert screen.trace is not None
    return screen


async def test_steps_reach_the_comparison(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="autograd", preload=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        trace = screen.trace
        assert trace is not None
        total = len(trace.forward) + len(trace.backward) + 1
        assert len(screen.steps) == total
        assert screen.current is not None and screen.current.phase == "forward"
        seen = set()
        for _ in range(total - 1):
            await pilot.press("right")
            assert screen.current is not None
            seen.add(screen.current.phase)
        assert seen == {"forward", "backward", "check"}
        assert screen.current.phase == "check"
        panel = _text(screen.query_one("#ag-panel", Static))
        assert "hand-style (float64) against PyTorch" in panel
        assert "agree" in panel
        # x accumulates from its two paths: the step at x + 2 says so
        await pilot.press("left")
        assert "reached along a second path" in _text(screen.query_one("#ag-panel", Static))
        await pilot.press("home")
        assert screen.position == 0


async def test_editing_x_changes_the_numbers(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="autograd", preload=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(app, pilot)
        assert screen.trace is not None
        before = screen.trace.x_grad
        await pilot.press("e")
        field = screen.query_one("#ag-x", Input)
        assert field.has_focus
        field.value = "0.5, 0.3, 0.2, 0.9"
        await pilot.press("enter")
        await workers_done(pilot)
        await pilot.pause()
        assert screen.trace.x == (0.5, 0.3, 0.2, 0.9)
        assert screen.trace.x_grad != before
        await pilot.press("home")  # the forward step of x shows its elements
        assert "0.9" in _text(screen.query_one("#ag-panel", Static))


async def test_bad_expression_keeps_the_last_graph(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="autograd", preload=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(app, pilot)
        good = screen.trace
        await pilot.press("t")
        screen.query_one("#ag-expr", Input).value = "x.grad + 1"
        await pilot.press("enter")
        await workers_done(pilot)
        await pilot.pause()
        error = screen.query_one("#ag-error-expr", Static)
        assert "attribute access is not allowed" in _text(error)
        assert error.has_class("-shown")
        assert screen.trace is good
        # a length mismatch is reported under z
        screen.query_one("#ag-expr", Input).value = "x * z"
        screen.query_one("#ag-z", Input).value = "1, 2"
        await pilot.press("enter")
        await workers_done(pilot)
        await pilot.pause()
        assert "same number" in _text(screen.query_one("#ag-error-z", Static))
        assert not screen.query_one("#ag-error-expr", Static).has_class("-shown")
        # a bad x is marked under x, in the engine's words without a CLI flag
        screen.query_one("#ag-z", Input).value = "1, 2, 3, 4"
        screen.query_one("#ag-x", Input).value = "1, a, 2, 3"
        await pilot.press("enter")
        await workers_done(pilot)
        await pilot.pause()
        x_error = _text(screen.query_one("#ag-error-x", Static))
        assert "element 1 ('a') is not a number" in x_error and "--x" not in x_error
        assert screen.query_one("#ag-x", Input).has_class("-invalid")
        assert not screen.query_one("#ag-error-z", Static).has_class("-shown")
        assert screen.trace is good
        await pilot.press("escape", "right")
        assert screen.position == 1
        assert app.is_running


async def test_other_expression_is_traced(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="autograd", preload=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        await pilot.press("t")
        screen.query_one("#ag-expr", Input).value = "sigmoid(x * z) + log(x)"
        await pilot.press("enter")
        await workers_done(pilot)
        await pilot.pause()
        assert screen.trace is not None and "sigmoid" in screen.trace.expression
        assert screen.trace.issues  # log(0) at element 1 is explained, not a crash
        await pilot.press("end")
        assert "undefined" in _text(screen.query_one("#ag-panel", Static))


async def test_a_program_is_traced_with_its_names(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="autograd", preload=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        screen.query_one("#ag-expr", Input).value = "u = x * z; v = u + u; w = v * u; w.sum()"
        await pilot.press("t", "enter")
        await workers_done(pilot)
        await pilot.pause()
        assert screen.trace is not None
        assert {"u", "v", "w", "y"} <= {node.name for node in screen.trace.nodes}
        assert "w" in _text(screen.query_one("#ag-graph", Static))


def test_snapshot_backward_step(make_app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def to_power_step(pilot: Pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press(*["right"] * 16)

    app = make_app(start_mode="autograd", preload=False)
    assert snap_compare(app, terminal_size=(120, 36), run_before=to_power_step)


async def test_dtype_toggle_with_a_bad_field_keeps_the_focus(make_app) -> None:  # type: ignore[no-untyped-def]
    """``d`` re-traces; a bad expression is reported under its field, but the focus stays where
    it was, so the next key is still a command and is not typed into the field."""
    app = make_app(start_mode="autograd", preload=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(app, pilot)
        expr = screen.query_one("#ag-expr", Input)
        await pilot.press("t", "end", "space", "plus", "space", "x", ".", "g", "escape")
        assert app.focused is None and expr.value.endswith(" + x.g")
        await pilot.press("d")
        await workers_done(pilot)
        await pilot.pause()
        assert screen.dtype == "float64"
        assert screen.query_one("#ag-error-expr", Static).has_class("-shown")
        assert app.focused is None
        await pilot.press("right")
        assert screen.position == 1 and expr.value.endswith(" + x.g")


async def test_at_160_columns_the_graph_shows_every_gradient_whole(make_app) -> None:  # type: ignore[no-untyped-def]
    """At the comparison every node line carries its value and gradient: at 160 columns the
    graph panel widens to its lines instead of cutting them (the step panel wraps its prose)."""
    from textual.containers import VerticalScroll

    app = make_app(start_mode="autograd", preload=False)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await _ready(app, pilot)
        await pilot.press("end")
        await pilot.pause()
        graph = screen.query_one("#ag-graph", Static)
        box = screen.query_one("#ag-graph-box", VerticalScroll)
        lines = _text(graph, width=400).splitlines()
        widest = max(len(line.rstrip()) for line in lines)
        assert widest <= box.scrollable_content_region.width, (widest, box.size)
        panel = screen.query_one("#ag-panel-box", VerticalScroll)
        assert panel.size.width >= 50  # the comparison's tables still fit beside it
