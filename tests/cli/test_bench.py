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
