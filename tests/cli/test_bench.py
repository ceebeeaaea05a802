from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.__main__ import main


@pytest.mark.slow
def test_bench_json_has_three_pipelines_and_ratios(make_image_folder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = make_image_folder({"cats": 12, "dogs": 12}, size=(48, 40))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "bench",
            "--data",
            str(folder),
            "--image-size",
            "64",
            "--batch-size",
            "4",
            "--batches",
            "2",
            "--warmup",
            "1",
            "--num-workers",
            "0",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--device",
            "cpu",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [row["pipeline"] for row in doc["rows"]] == ["notebook", "workbench", "compute"]
    assert all(row["images_per_second"] > 0 and row["images"] == 8 for row in doc["rows"])
    assert doc["workbench_vs_notebook"] > 0 and doc["workbench_vs_compute"] > 0
    assert doc["device"].startswith("cpu") and doc["image_size"] == 64


def test_bench_refuses_bad_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--batches", "0"]) == 2
    assert "--batches" in capsys.readouterr().err
    # the process count by the training run's own rule (the option table's bounds)
    from workbench.config import MAX_PROCESSES

    for wrong in ("0", str(MAX_PROCESSES + 1)):
        assert main(["bench", "--nproc-per-node", wrong]) == 2
        assert f"--nproc-per-node: must be an integer in 1..{MAX_PROCESSES}" in (
            capsys.readouterr().err
        )


def test_background_work_is_timed_on_its_own_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """settle() runs inside the pipeline's clock, so a prefetching loader cannot hide its work
    in another pipeline's turn. The clock is a fake that only settle() advances, so the test
    measures where the call sits, not how fast this machine is."""
    import types

    import torch

    from workbench.config import ModelConfig
    from workbench.engine import bench
    from workbench.engine.device import setup_device

    clock = [0.0]
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    batch = (torch.randn(2, 3, 16, 16), torch.eye(2))
    calls: list[str] = []

    def slow_settle() -> None:
        calls.append("settled")
        clock[0] += 1.0

    timings = bench.time_interleaved(
        {"prefetching": iter([batch] * 4), "plain": iter([batch] * 4)},
        settle={"prefetching": slow_settle},
        model_config=ModelConfig(widths=(4,), convs_per_stage=1, stem=4),
        num_classes=2,
        setup=setup_device("cpu", amp=False),
        batches=3,
        warmup=1,
    )
    assert calls == ["settled"] * 4
    assert timings["prefetching"][0] == timings["plain"][0] == 3
    # Three timed batches, each charged its own settle; the warm-up's settle and the other
    # pipeline are charged nothing.
    assert timings["prefetching"][2] == 3.0
    assert timings["plain"][2] == 0.0
