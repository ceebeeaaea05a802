"""The shell: number keys, command palette entries, help, quit, resize, engine preload."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import pytest
from textual.worker import WorkerFailed

from tests.ui.helpers import settle
from workbench.screens import SCREENS
from workbench.screens.base import WorkbenchScreen


async def test_number_keys_switch_screens(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(preload=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        for entry in SCREENS:
            await pilot.press(entry.key)
            assert app.current_mode == entry.mode
            assert isinstance(app.screen, WorkbenchScreen)
            assert app.screen.id == entry.mode


async def test_command_palette_lists_every_screen(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(preload=False, start_mode="runs")
    async with app.run_test(size=(80, 24)):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for entry in SCREENS:
            assert f"{entry.key} {entry.title}" in titles


async def test_help_opens_and_closes(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(preload=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert app.screen.id == "help"
        await pilot.press("escape")
        assert app.screen.id == "runs"


async def test_quit_without_work_says_so_and_exits(make_app) -> None:  # type: ignore[no-untyped-def]
    """q shows "quitting…" in the very next frame (the teardown takes a second or two), then
    the app exits without asking."""
    app = make_app(preload=False, start_mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        shown = [str(n.message) for n in app._notifications]
        assert any("quitting" in text for text in shown), shown
        await pilot.pause(0.3)
    assert app.return_code == 0


async def test_engine_preload_flips_ready(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="runs")
    assert app.engine_status == "loading engine…" and not app.engine_ready
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.engine_ready and app.engine_status == ""
        assert app.engine_seconds is not None


def test_app_import_does_not_load_torch_or_screens() -> None:
    """The first frame must not wait for torch: the app module and its shell import neither
    torch nor the engine nor any screen (screens load on first use)."""
    code = (
        "import sys, workbench.app\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'torch'\n"
        "       or m.startswith(('workbench.engine.', 'workbench.screens.'))]\n"
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_resize_down_to_80x24_and_up(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(preload=False, start_mode="runs")
    async with app.run_test(size=(200, 50)) as pilot:
        for entry in SCREENS:
            await pilot.press(entry.key)
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            await pilot.resize_terminal(200, 50)
            await pilot.pause()
            assert app.screen.id == entry.mode


async def test_quit_asks_when_work_would_be_lost(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="data", preload=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.busy = True  # as while the data cache is being built
        await pilot.press("q")
        assert app.screen.id == "confirm"
        await pilot.press("n")
        assert app.screen.id == "data" and app.return_code is None
        await pilot.press("q", "y")
        await pilot.pause()
    assert app.return_code == 0


async def test_worker_failure_becomes_a_notification(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="runs", preload=False)
    async with app.run_test(size=(80, 24)) as pilot:

        def boom() -> None:
            raise RuntimeError("the disk is full")

        app.screen.run_worker(boom, thread=True, exit_on_error=False, name="saving")
        with contextlib.suppress(WorkerFailed):  # raised if still listed when waited for
            await settle(pilot)
        assert app.screen.id == "runs"
        assert any("the disk is full" in n.message for n in app._notifications)


@pytest.mark.parametrize("mode", ["data", "train", "runs"])
async def test_help_describes_each_screen_and_its_keys(make_app, mode: str) -> None:  # type: ignore[no-untyped-def]
    from workbench.screens.help import help_markdown

    app = make_app(start_mode=mode, preload=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        text = help_markdown(screen)
        assert text.startswith(f"# {screen.title}") and "## Keys here" in text
        for binding in type(screen).BINDINGS:
            assert not isinstance(binding, tuple)
            if binding.show:
                assert binding.description in text
        await pilot.press("question_mark")
        assert app.screen.id == "help"


async def test_help_prints_keys_as_they_are_typed(make_app) -> None:  # type: ignore[no-untyped-def]
    """Keys read as printed on the keyboard (``[``), never as Textual's names for them."""
    from workbench.screens.help import help_markdown

    app = make_app(start_mode="data", preload=False)
    async with app.run_test(size=(100, 30)):
        text = help_markdown(app.screen)
    assert "`[` Prev tab" in text and "`]` Next tab" in text
    assert "square_bracket" not in text and "question_mark" not in text


async def test_quitting_asks_every_opened_screen(make_app) -> None:  # type: ignore[no-untyped-def]
    """The app knows each mode's screen once it is opened (no private Textual state)."""
    app = make_app(start_mode="data", preload=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        assert {type(s).__name__ for s in app.mode_screens()} == {"DataScreen", "RunsScreen"}


@pytest.mark.parametrize("mode", [entry.mode for entry in SCREENS])
async def test_every_shown_key_fits_the_footer_at_80_columns(make_app, mode: str) -> None:  # type: ignore[no-untyped-def]
    """At 80 columns no footer key is cut off: each shown binding's key lies wholly on screen,
    and left of the command palette's key where that is shown (it is docked over the right end)."""
    from textual.widgets import Footer

    app = make_app(start_mode=mode, preload=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        palette = footer.query("FooterKey.-command-palette")
        keys = footer.query("FooterKey").exclude(".-command-palette")
        assert keys, mode
        room = min([80] + [key.region.x for key in palette if key.display])
        cut = [str(key.render()) for key in keys if key.region.right > room or not key.region.width]
        assert cut == [], (mode, cut)
