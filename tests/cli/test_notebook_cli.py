"""`workbench notebook` end to end: the notebook of the session's tiny run, written and executed
in a real kernel once per module, then read back cell by cell."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_cli
from tests.support.tiny_run import tiny_data, tiny_run
from workbench.engine.evaluate import evaluate, load_model
from workbench.engine.split import read_manifest

PARTS = ("Setup", "Q1", "Q2", *(f"Q3 ({letter})" for letter in "abcdefghijk"))


def _text(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _outputs(cell: dict[str, Any]) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append("".join(output["text"]))
        for kind in ("text/plain", "text/markdown"):
            if kind in output.get("data", {}):
                parts.append("".join(output["data"][kind]))
    return "\n".join(parts)


def _cell_after(cells: list[dict[str, Any]], heading: str, needle: str) -> dict[str, Any]:
    """The first code cell after the Markdown heading ``heading`` whose source has ``needle``."""
    start = next(
        i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and heading in _text(c)
    )
    return next(c for c in cells[start:] if c["cell_type"] == "code" and needle in _text(c))


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the executed notebook, the command's --json document)."""
    out = tmp_path_factory.mktemp("notebook") / "hand-in.ipynb"
    result = run_cli("notebook", str(tiny_run().run_dir), "--out", str(out), "--html", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    return json.loads(out.read_text(encoding="utf-8")), document


@pytest.mark.slow
def test_the_notebook_executes_without_an_error_and_has_every_part(executed) -> None:  # type: ignore[no-untyped-def]
    notebook, document = executed
    assert notebook["nbformat"] == 4
    assert document["errors"] == 0 and document["executed"] is True
    cells = notebook["cells"]
    errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors == []
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell ran"
    headings = [
        line
        for c in cells
        if c["cell_type"] == "markdown"
        for line in _text(c).splitlines()
        if line.startswith("#")
    ]
    for part in PARTS:
        assert any(part in line for line in headings), f"no heading for {part}"
    figures = sum("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", []))
    assert figures >= 12  # graph, o(1-o), split grid, 2 augment grids, 4 metrics, ...
    html = Path(document["html"])
    assert html.is_file() and "Q3 (k)" in html.read_text(encoding="utf-8")


@pytest.mark.slow
def test_part_i_recomputes_the_engines_test_accuracy(executed) -> None:  # type: ignore[no-untyped-def]
    notebook, document = executed
    cell = _cell_after(notebook["cells"], "Q3 (i)", "weights_only=True")
    printed = _outputs(cell)
    found = re.search(
        r"recomputed here: ([0-9.]+) \((\d+) images\); test_report.json: ([0-9.]+); equal: (\w+)",
        printed,
    )
    assert found, printed
    engine = evaluate(load_model(tiny_run().run_dir), tiny_data(), explained=0).report
    assert float(found.group(1)) == pytest.approx(engine.accuracy, abs=5e-5)
    assert int(found.group(2)) == engine.count
    assert found.group(4) == "True"
    assert document["test_accuracy"] == pytest.approx(engine.accuracy)


@pytest.mark.slow
def test_the_plain_split_rebuild_matches_split_csv(executed) -> None:  # type: ignore[no-untyped-def]
    notebook, _ = executed
    cell = _cell_after(notebook["cells"], "Q3 (a)", "hashlib")
    imports = re.findall(r"^\s*(?:import|from)\s+(\w+)", _text(cell), re.MULTILINE)
    assert set(imports) <= {"csv", "hashlib", "os", "numpy", "zipfile"}, imports
    assert "api." not in _text(cell) and "RUN" not in _text(cell)  # stands on its own
    rows = read_manifest(tiny_run().run_dir / "split.csv").rows
    assert f"identical: {len(rows)} of {len(rows)}" in _outputs(cell)


@pytest.mark.slow
def test_validation_changes_no_tensor(executed) -> None:  # type: ignore[no-untyped-def]
    notebook, _ = executed
    cell = _cell_after(notebook["cells"], "Q3 (e)", "state_hashes")
    printed = _outputs(cell)
    found = re.search(r"(\d+) of (\d+) tensors changed", printed)
    assert found and found.group(1) == "0" and int(found.group(2)) > 10, printed
    assert "gradients stored: 0" in printed


@pytest.mark.slow
def test_a_short_run_is_warned_about(executed) -> None:  # type: ignore[no-untyped-def]
    notebook, _ = executed
    first = " ".join(_text(c) for c in notebook["cells"][:3])
    assert "not the assignment's full recipe" in first
    assert "3 epochs" in first  # the tiny run's own number


def test_no_run_for_the_data_is_one_line(tmp_path: Path) -> None:
    result = run_cli("notebook", "--data", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "no finished run" in result.stderr and "Traceback" not in result.stderr


def test_no_execute_from_the_command_line(tmp_path: Path) -> None:
    """`--no-execute` writes the cells without outputs and says so; its help shows no
    misleading default."""
    out = tmp_path / "cells.ipynb"
    result = run_cli(
        "notebook", str(tiny_run().run_dir), "--out", str(out), "--no-execute", "--json"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["executed"] is False and document["errors"] == 0
    cells = json.loads(out.read_text(encoding="utf-8"))["cells"]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")
    help_text = run_cli("notebook", "--help").stdout
    assert "(default: True)" not in help_text
