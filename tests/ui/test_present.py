"""The presentation at 80x24: every slide forward and back on the session's tiny run."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.widgets import TabbedContent

from tests.support.tiny_run import TinyRun
from tests.ui.helpers import settle
from workbench.presentation import SLIDES, Presentation

WIDTH = 80


def _state(app) -> str:  # type: ignore[no-untyped-def]
    """What the slide's actions were to bring about, read off the screen shown."""
    screen = app.screen
    if screen.id == "autograd":
        return "last step" if screen.position == len(screen.steps) - 1 > 0 else "not last"
    if screen.id == "evaluate":  # the tab, and the run evaluated is the one the picker shows
        picked = Path(str(screen.query_one("#ev-run").value)).name
        return f"{screen.query_one(TabbedContent).active} of {picked}"
    if screen.id == "data":
        return str(screen.query_one(TabbedContent).active)
    if screen.id == "train":
        return screen.tail.run_dir.name if screen.tail is not None else "no run"
    if screen.id == "demo":
        return screen.loaded.name if screen.loaded is not None else "no model"
    return ""


EXPECTED = {
    "autograd": "last step",
    "data": {"Q3 split": "tab-grid", "Q3 augment": "tab-augment"},
    "train": "tiny",
    "evaluate": {"Q3 test": "ev-tab-metrics of tiny", "Q3 errors": "ev-tab-wrong of tiny"},
    "demo": "tiny",
    "backprop": "",
}


async def test_every_slide_forward_and_back_at_80x24(make_app, tiny: TinyRun) -> None:  # type: ignore[no-untyped-def]
    presentation = Presentation.for_runs(tiny.run_dir.parent, tiny.run_dir)
    app = make_app(
        data=str(tiny.data_dir), runs_root=tiny.run_dir.parent, presentation=presentation
    )
    slides = presentation.slides
    async with app.run_test(size=(WIDTH, 24)) as pilot:
        order = [*range(len(slides)), *reversed(range(len(slides) - 1))]
        for step, index in enumerate(order):
            if step:
                await pilot.press("space" if index > order[step - 1] else "backspace")
            await settle(pilot)
            slide = slides[index]
            assert presentation.index == index and app.current_mode == slide.mode
            assert app.slide_caption == presentation.caption()
            assert app.slide_caption.startswith(f"{index + 1}/{len(slides)} {slide.title}")
            wanted = EXPECTED[slide.mode]
            wanted = wanted[slide.title] if isinstance(wanted, dict) else wanted
            assert _state(app) == wanted, slide.title
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert not errors


async def test_slide_keys_type_into_a_field_and_do_nothing_outside_a_presentation(
    make_app,  # type: ignore[no-untyped-def]
    tiny: TinyRun,
) -> None:
    presentation = Presentation.for_runs(tiny.run_dir.parent, tiny.run_dir)
    presentation.index = len(presentation.slides) - 1  # the Demo slide: a path field
    app = make_app(runs_root=tiny.run_dir.parent, presentation=presentation)
    async with app.run_test(size=(WIDTH, 24)) as pilot:
        await settle(pilot)
        assert app.current_mode == "demo"
        await pilot.press("e", "a", "space", "b", "backspace")
        assert app.screen.query_one("#demo-path").value == "a "
        assert presentation.index == len(presentation.slides) - 1
        await pilot.press("escape")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "End the presentation" in titles and "Present" not in titles
        app.end_presentation()
        await pilot.press("backspace")
        assert app.current_mode == "demo" and app.slide_caption == ""
        assert "Present" in [command.title for command in app.get_system_commands(app.screen)]


def test_captions_fit_80_columns_and_comparison_needs_runs(tiny: TinyRun, tmp_path: Path) -> None:
    everything = Presentation(tiny.run_dir, SLIDES)
    for index in range(len(SLIDES)):
        everything.index = index
        assert len(everything.caption()) < WIDTH, everything.caption()
    alone = Presentation.for_runs(tiny.run_dir.parent)
    assert alone.run == tiny.run_dir
    assert [s for s in alone.slides if s.comparison] == []
    for name in ("a", "b"):
        shutil.copytree(tiny.run_dir, tmp_path / name)
    several = Presentation.for_runs(tmp_path)
    assert [s for s in several.slides if s.comparison] == [s for s in SLIDES if s.comparison]
