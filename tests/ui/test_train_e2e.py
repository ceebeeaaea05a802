"""End to end: real `workbench train` processes, started from the Train screen or not.

Each test waits for the training process (``Popen.wait`` in a thread) or for a state of the run
directory, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Select

from tests.ui.helpers import settle
from workbench.screens.train import TrainScreen
from workbench.widgets.plots import MetricPlot

pytestmark = pytest.mark.slow

TINY = {"epochs": "2", "batch_size": "8", "widths": "8,16", "device": "cpu", "lr": "0.01"}


async def _until(pilot, condition: Callable[[], bool], timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until ``condition()`` holds (it reads the run directory as it goes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting for the run"
        await pilot.pause(0.1)


async def _fill(screen: TrainScreen, pilot, values: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    screen.query_one("#f-image_size", Select).value = 64
    for name, value in values.items():
        screen.query_one(f"#f-{name}", Input).value = value
    await pilot.pause()
    assert screen.errors == {}


async def _process_exit(screen: TrainScreen) -> int:
    assert screen.process is not None
    return await asyncio.to_thread(screen.process.wait)


async def test_start_run_from_form_and_plot_it(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        await _fill(screen, pilot, TINY)
        await pilot.press("s")
        assert screen.tail is not None and screen.process is not None
        assert await _process_exit(screen) == 0
        screen.poll_run()
        state = screen.tail.state
        assert state.state == "finished", state.message
        assert state.epoch_numbers == [1, 2]
        for name in ("loss", "accuracy", "precision", "recall"):
            series = screen.query_one(f"#plot-{name}", MetricPlot).series
            assert [len(xs) for _, xs, _ in series] == [2, 2]
        assert screen.query_one("#plot-batch", MetricPlot).series[0][1]
        config = (state.run_dir / "config.json").read_text()
        assert '"image_size": 64' in config and '"widths": [\n      8,\n      16\n    ]' in config
        # launched with --config run_dir/config.json: the run replaced it with its own, in full
        assert '"classes": [' in config and '"split_fingerprint": ' in config


async def test_stop_then_resume(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="train")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        await _fill(screen, pilot, {**TINY, "epochs": "200"})
        await pilot.press("s")
        assert screen.tail is not None
        await _until(pilot, lambda: len(screen.tail.state.epoch_numbers) >= 1)  # type: ignore[union-attr]
        await pilot.press("x")
        assert await _process_exit(screen) == 130
        screen.poll_run()
        stopped = screen.tail.state
        assert stopped.state == "stopped", stopped.message
        done = len(stopped.epoch_numbers)
        assert 1 <= done < 200
        await pilot.press("r")
        await _until(pilot, lambda: len(screen.tail.state.epoch_numbers) > done)  # type: ignore[union-attr]
        await pilot.press("x")
        await _process_exit(screen)
        screen.poll_run()
        resumed = screen.tail.state
        assert resumed.run_dir == stopped.run_dir
        assert resumed.epoch_numbers == list(range(1, len(resumed.epoch_numbers) + 1))


async def test_attach_to_run_written_by_the_cli(
    make_app, runs_root: Path, tiny_images: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run_dir = runs_root / "from-cli"
    argv = [sys.executable, "-m", "workbench", "train", "--data", str(tiny_images),
            "--cache-dir", str(tmp_path / "cache"), "--image-size", "64", "--epochs", "2",
            "--batch-size", "8", "--stem", "8", "--widths", "8,16", "--device", "cpu",
            "--run-dir", str(run_dir)]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True)
    app = make_app(start_mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        assert screen.tail is not None and screen.tail.run_dir.name == "from-cli"
        assert screen.tail.state.state == "finished"
        series = screen.query_one("#plot-accuracy", MetricPlot).series
        assert [list(xs) for _, xs, _ in series] == [[1, 2], [1, 2]]
