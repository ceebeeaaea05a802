"""Process settings for training: made where they apply, never over the user's own."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from workbench.cli import tuning

GLIBC_LINUX = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def _in_subprocess(code: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(not GLIBC_LINUX, reason="mallopt is glibc's")
def test_keep_freed_memory_applies_on_glibc_and_yields_to_the_environment() -> None:
    code = "from workbench.cli.tuning import keep_freed_memory; print(keep_freed_memory())"
    base = {"PATH": "/usr/bin:/bin"}
    assert _in_subprocess(code, base) == "True"
    assert _in_subprocess(code, {**base, "MALLOC_MMAP_THRESHOLD_": "65536"}) == "False"
    assert _in_subprocess(code, {**base, "GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}) == (
        "False"
    )


def test_passive_openmp_keeps_a_policy_already_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    tuning.passive_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    tuning.passive_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
