"""How fast the workbench TUI shows its first frame, and when the engine (torch) is in.

Each sample is a fresh Python process (cold imports, like a user typing ``workbench``) that runs
the app headless on the Runs screen and records, from the process's first line:

* ``imports``: textual-image (which queries the terminal) and ``workbench.app`` imported;
* ``first frame``: the first screen mounted and painted;
* ``runs listed``: the Runs screen has read the runs folder (it needs no torch);
* ``engine``: the background preload of torch and the engine finished;
* ``worst stall``: the longest gap between ticks of a 20 ms UI timer while the engine loaded
  (importing torch holds the GIL while it loads its shared libraries, so the UI can hiccup).

Usage: ``.venv/bin/python benchmarks/tui_startup.py [--runs 3] [--json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import time
t0 = time.perf_counter()
import asyncio, json, sys
import textual_image.widget  # noqa: F401  (as workbench.__main__ does, before the app)
from workbench.app import WorkbenchApp
t_imports = time.perf_counter() - t0
marks = {"imports": t_imports}
ticks = []

class Probe(WorkbenchApp):
    CSS_PATH = sys.modules["workbench.app"].__file__.replace("app.py", "app.tcss")

    def on_mount(self) -> None:
        super().on_mount()
        self.call_after_refresh(lambda: marks.setdefault("first_frame", time.perf_counter() - t0))
        self.set_interval(0.02, self.tick)

    def tick(self) -> None:
        ticks.append(time.perf_counter())
        if getattr(self.screen, "loaded", False):
            marks.setdefault("runs_listed", time.perf_counter() - t0)

    def on_workbench_app_engine_loaded(self, message) -> None:
        super().on_workbench_app_engine_loaded(message)
        marks["engine"] = time.perf_counter() - t0
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        marks["worst_stall"] = max(gaps, default=0.0)
        self.set_interval(0.02, self.exit_when_listed)

    def exit_when_listed(self) -> None:
        if "runs_listed" in marks:
            self.exit()

async def main() -> None:
    app = Probe(runs_root=sys.argv[1], start_mode="runs")
    await app.run_async(headless=True, size=(120, 40))

asyncio.run(main())
print(json.dumps(marks))
"""


def sample(runs_root: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, runs_root], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes to time")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs_root:
        samples = [sample(runs_root) for _ in range(args.runs)]
    keys = ("imports", "first_frame", "runs_listed", "engine", "worst_stall")
    summary = {k: statistics.median(s[k] for s in samples) for k in keys}
    if args.json:
        print(json.dumps({"median_seconds": summary, "samples": samples}, indent=2))
        return
    print(f"{'median of ' + str(args.runs) + ' cold starts':<28} seconds")
    for key in keys:
        print(f"{key.replace('_', ' '):<28} {summary[key]:.3f}")


if __name__ == "__main__":
    main()
