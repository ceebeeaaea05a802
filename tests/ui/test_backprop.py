"""The Backprop screen (Q2): live update, loading a vanishing case, a bad field, snapshot."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from tests.ui.helpers import workers_done
from workbench.engine.backprop_demo import delta_w, vanishing_cases
from workbench.screens.backprop import BackpropScreen
from workbench.widgets.slope_plot import DeltaMap, SlopePlot


async def _ready(app, pilot: Pilot) -> BackpropScreen:  # type: ignore[no-untyped-def]
    await workers_done(pilot)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, BackpropScreen)
    assert screen.report is not None and screen.derivation is not None
    return screen


async def test_fields_update_the_derivation_live(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="backprop", preload=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        assert screen.derivation is not None
        assert screen.derivation.delta_w11 == pytest.approx(float(delta_w(0.0, 0.5, 1.0, 0.5)))
        await pilot.press("i")
        await pilot.press("ctrl+u", *"2")  # x1 = 2
        await pilot.pause()
        assert screen.derivation.delta_w11 == pytest.approx(float(delta_w(0.0, 2.0, 1.0, 0.5)))
        await pilot.press("tab", "ctrl+u", *"3")  # net1 = 3
        await pilot.pause()
        expected = float(delta_w(3.0, 2.0, 1.0, 0.5))
        assert screen.derivation.delta_w11 == pytest.approx(expected)
        plot = screen.query_one(SlopePlot)
        assert plot.point is not None and plot.point[0] == pytest.approx(3.0)
        # a bad field: message under it, last good numbers kept, no crash
        await pilot.press("ctrl+u", *"x")
        await pilot.pause()
        assert screen.query_one("#bp-error-net1", Static).has_class("-shown")
        assert screen.query_one("#bp-net1", Input).has_class("-invalid")
        assert screen.derivation.delta_w11 == pytest.approx(expected)


async def test_selecting_a_case_loads_its_numbers(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="backprop", preload=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(app, pilot)
        cases = vanishing_cases()
        table = screen.query_one("#bp-cases", DataTable)
        assert table.row_count == len(cases)
        assert table.has_focus
        wrong_side = next(i for i, c in enumerate(cases) if c.key == "wrong_side")
        await pilot.press(*["down"] * wrong_side, "enter")
        await pilot.pause()
        case = cases[wrong_side]
        assert float(screen.query_one("#bp-net1", Input).value) == case.net1
        assert float(screen.query_one("#bp-t1", Input).value) == case.t1
        assert screen.derivation is not None
        assert screen.derivation.delta_w11 == pytest.approx(case.delta_w11)
        await pilot.press("r")
        assert screen.query_one("#bp-net1", Input).value == "0"
        # m shows the |Δw11| map for the current t1, η with the current point
        await pilot.press("m")
        await pilot.pause()
        assert screen.has_class("-map")
        delta_map = screen.query_one(DeltaMap)
        assert delta_map.data is not None
        grid, point = delta_map.data
        assert point == (0.0, 0.5) and grid.t1 == 1.0 and grid.eta == 0.5
        assert "●" in str(delta_map.content)


def test_snapshot_saturation_case(make_app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def load_saturation(pilot: Pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()

    app = make_app(start_mode="backprop", preload=False)
    assert snap_compare(app, terminal_size=(120, 40), run_before=load_saturation)
