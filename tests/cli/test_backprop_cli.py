"""`workbench backprop` end to end, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "backprop", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "160"},
    )


def test_json() -> None:
    result = _run("--json", "--trials", "3")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["check"]["ok"] is True and len(document["check"]["trials"]) == 3
    assert document["check"]["max_rel_diff"] <= 1e-9
    assert len(document["cases"]) >= 6
    assert len(document["curve"]["net"]) == len(document["curve"]["slope"])


def test_rich_display_and_bad_trials() -> None:
    result = _run()
    assert result.returncode == 0, result.stderr
    assert "Derivation of Δw11" in result.stdout and "wrong-side saturation" in result.stdout
    bad = _run("--trials", "0")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
