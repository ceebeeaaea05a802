"""`workbench eval` end to end, in a subprocess, on the session's tiny trained run."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tests.support.cli import run_cli
from tests.support.tiny_run import tiny_data, tiny_run
from workbench.engine.evaluate import evaluate, load_model


def test_eval_json_matches_the_engine_and_writes_the_report(tmp_path: Path) -> None:
    tiny = tiny_run()
    out = tmp_path / "out"
    result = run_cli(
        "eval", str(tiny.run_dir), "--cache-dir", str(tiny.cache_dir), "--out", str(out), "--json"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    expected = evaluate(load_model(tiny.run_dir), tiny_data()).report
    assert document["accuracy"] == expected.accuracy
    assert document["confusion"] == expected.confusion
    assert document["files"] == [str(out / "test_report.txt"), str(out / "test_report.json")]
    saved = json.loads((out / "test_report.json").read_text(encoding="utf-8"))
    assert saved["accuracy"] == expected.accuracy and "files" not in saved


def test_eval_rich_display(tmp_path: Path) -> None:
    tiny = tiny_run()
    checkpoint = tiny.run_dir / "checkpoints" / "best.pt"
    result = run_cli(
        "eval", str(checkpoint), "--cache-dir", str(tiny.cache_dir), "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "test_report.json").read_text())
    # the Evaluate screen's own tables (one renderer for both), with the report's numbers
    for text in (
        "run tiny",
        f"test: accuracy {report['accuracy']:.4f}",
        "confusion matrix: count, row %",
        "most confused",
        "macro",
        "panda",
    ):
        assert text in result.stdout


def test_eval_mismatched_checkpoint_fails_with_one_line(tmp_path: Path) -> None:
    tiny = tiny_run()
    state = torch.load(tiny.run_dir / "checkpoints" / "best.pt", weights_only=True)
    state["config"]["model"]["widths"] = [8, 32]
    torch.save(state, tmp_path / "other.pt")
    result = run_cli("eval", str(tmp_path / "other.pt"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "another architecture" in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))  # type: ignore[return-value]


def test_eval_refuses_a_pickle_that_would_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    torch.save({"model": _Exploit(marker)}, tmp_path / "evil.pt")
    result = run_cli("eval", str(tmp_path / "evil.pt"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "refused" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not marker.exists()
