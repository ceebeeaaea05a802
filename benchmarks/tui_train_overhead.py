"""Does watching a run in the TUI slow the training down? Images per second, CLI against TUI.

The same small run is trained in turn by ``workbench train`` alone and by the Train screen's
Start (a headless app that launches the same command and then polls the run directory and
redraws its plots, as it does for a user). The training rate is each run's own figure
(``images_per_second`` of its epoch_end events, first epoch left out as warm-up); the runs
alternate so that a machine whose load drifts affects both sides alike. On a shared machine the
rates drift more than the effect sought, so the TUI process's own CPU use while it watches is
reported too: that is the most it can take from the training.

Usage: ``.venv/bin/python benchmarks/tui_train_overhead.py [--data DIR] [--pairs 2] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORM = {"epochs": "4", "batch_size": "64", "device": "auto", "widths": "16,32,64,128,256"}
SIZE = 64


def rate(run_dir: Path) -> float:
    from workbench.engine.runs import Run

    events, _ = Run(run_dir).events()
    rates = [e.images_per_second for e in events if e.kind == "epoch_end"][1:]
    return statistics.median(rates)


def cli_run(root: Path, data: str | None, cache: str, name: str) -> float:
    run_dir = root / name
    argv = [sys.executable, "-m", "workbench", "train", "--run-dir", str(run_dir),
            "--cache-dir", cache, "--image-size", str(SIZE), "--epochs", FORM["epochs"],
            "--batch-size", FORM["batch_size"], "--device", FORM["device"],
            "--widths", FORM["widths"]]  # fmt: skip
    if data:
        argv += ["--data", data]
    subprocess.run(argv, check=True, capture_output=True)
    return rate(run_dir)


async def tui_run(root: Path, data: str | None, cache: str) -> tuple[float, float]:
    """The run's images per second, and the TUI process's CPU share while it watched."""
    from textual.widgets import Input, Select

    from workbench.app import WorkbenchApp
    from workbench.screens.train import TrainScreen

    app = WorkbenchApp(data=data, cache_dir=cache, runs_root=root, start_mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        screen.query_one("#f-image_size", Select).value = SIZE
        for field, value in FORM.items():
            screen.query_one(f"#f-{field}", Input).value = value
        await pilot.pause()
        await pilot.press("s")
        assert screen.process is not None and screen.tail is not None
        wall, cpu = time.perf_counter(), time.process_time()
        while screen.process is not None and screen.process.poll() is None:
            await pilot.pause(0.5)  # the app keeps polling and redrawing meanwhile
        share = (time.process_time() - cpu) / (time.perf_counter() - wall)
        return rate(screen.tail.run_dir), share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="data set (default: the demo set)")
    parser.add_argument("--pairs", type=int, default=2, help="CLI/TUI pairs to run")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args()
    cli: list[float] = []
    tui: list[float] = []
    shares: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "runs", str(Path(tmp) / "cache")
        root.mkdir()
        cli_run(root, args.data, cache, "warm-cache")  # decode cache and demo set built once
        for i in range(args.pairs):
            cli.append(cli_run(root, args.data, cache, f"cli-{i}"))
            images_per_second, share = asyncio.run(tui_run(root, args.data, cache))
            tui.append(images_per_second)
            shares.append(share)
    result = {
        "cli_images_per_second": cli,
        "tui_images_per_second": tui,
        "tui_over_cli": statistics.median(tui) / statistics.median(cli),
        "tui_cpu_share": statistics.median(shares),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"CLI  img/s  {' '.join(f'{r:7.1f}' for r in cli)}")
    print(f"TUI  img/s  {' '.join(f'{r:7.1f}' for r in tui)}")
    print(f"TUI / CLI   {result['tui_over_cli']:.3f} (medians)")
    print(f"TUI process CPU while watching: {100 * result['tui_cpu_share']:.1f}% of one core")


if __name__ == "__main__":
    main()
