"""The Demo screen at 80x24 on the session's tiny run: a run, an image, bars, n/p, Grad-CAM."""

from __future__ import annotations

from rich.console import Console
from textual.widgets import Input, Static

from tests.support.tiny_run import TinyRun
from tests.ui.helpers import settle
from workbench.screens.demo import DemoScreen
from workbench.widgets.run_picker import RunPicker


def _text(widget: Static) -> str:
    console = Console(width=80, record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


async def test_demo_predicts_a_typed_folder_and_steps_through_it(make_app, tiny: TinyRun) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="demo", runs_root=tiny.run_dir.parent)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DemoScreen)
        screen.query_one(RunPicker).value = str(tiny.run_dir)
        await settle(pilot)
        assert screen.loaded is not None and screen.loaded.name == "tiny"
        folder = tiny.data_dir / "dogs"
        images = sorted(folder.iterdir())
        await pilot.press("e")
        screen.query_one("#demo-path", Input).value = str(folder)
        await pilot.press("enter")
        await settle(pilot)
        prediction = screen.prediction
        assert prediction is not None and prediction.file == str(images[0])
        bars = _text(screen.query_one("#demo-bars", Static))
        predicted = screen.loaded.classes[prediction.predicted]
        assert f"predicted {predicted} {prediction.confidence:.1%}" in bars
        lines = bars.splitlines()
        for name, p in zip(screen.loaded.classes, prediction.probabilities, strict=True):
            assert any(line.startswith(name[:6]) and f"{p:.2f}" in line for line in lines)
        assert screen.query("#demo-picture .demo-image")
        await pilot.press("n")
        await settle(pilot)
        assert screen.prediction is not None and screen.prediction.file == str(images[1])
        await pilot.press("p", "p")
        await settle(pilot)
        assert screen.prediction is not None and screen.prediction.file == str(images[-1])
        first_cam = screen.cam_class
        assert first_cam == screen.prediction.predicted
        await pilot.press("k")
        await settle(pilot)
        assert screen.cam_class == (first_cam + 1) % len(screen.loaded.classes)
        assert set(screen.cams) == {first_cam, screen.cam_class}
        assert screen.has_class("-cam") and screen.query("#demo-cam .demo-image")


async def test_demo_reports_a_file_that_is_not_an_image(make_app, tiny: TinyRun, tmp_path) -> None:  # type: ignore[no-untyped-def]
    stray = tmp_path / "notes.png"
    stray.write_text("not an image")
    app = make_app(start_mode="demo", runs_root=tiny.run_dir.parent)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DemoScreen)
        screen.action_open(str(tiny.run_dir))
        await settle(pilot)
        await pilot.press("e")
        screen.query_one("#demo-path", Input).value = str(stray)
        await pilot.press("enter")
        await settle(pilot)
        status = screen.query_one("#demo-status", Static)
        assert screen.prediction is None and status.has_class("error-text")
        assert "not an image" in _text(status)
