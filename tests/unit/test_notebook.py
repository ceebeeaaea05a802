"""The notebook generator and the public API, without a kernel: cells, figures, drafted text."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tiny_run import tiny_data, tiny_run
from workbench.engine.evaluate import evaluate, load_model
from workbench.engine.export.evidence import (
    LossResult,
    error_analysis_markdown,
    loss_comparison_markdown,
)
from workbench.engine.export.registry import Sources
from workbench.engine.runs import Run


def _sources() -> Sources:
    return Sources.for_run(Run(tiny_run().run_dir))


def test_sources_for_the_tiny_run_fixture(tiny) -> None:  # type: ignore[no-untyped-def]
    """The shared fixture and the cached function are one run, trained once."""
    assert tiny is tiny_run() and Run(tiny.run_dir).status().state == "finished"  # type: ignore[union-attr]


def test_no_execute_writes_a_valid_notebook_without_a_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat

    from workbench.engine.export.notebook import write_notebook

    for module in ("nbclient", "jupyter_client", "ipykernel"):
        monkeypatch.setitem(sys.modules, module, None)  # importing any of them now fails
    written = write_notebook(_sources(), tmp_path, execute=False)
    path = tmp_path / "notebook.ipynb"
    assert path in written and (tmp_path / "test_report.json") in written
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] for cell in code)
    report = json.loads((tmp_path / "test_report.json").read_text())
    assert report["run_id"] == "tiny"


def test_code_cells_call_the_api_and_markdown_carries_the_runs_numbers() -> None:
    from workbench.engine.export.notebook_parts import notebook_cells

    sources = _sources()
    cells = notebook_cells(sources)
    code = [cell.text for cell in cells if cell.kind == "code"]
    # short cells over the public API, never the engine's internals
    assert not any("workbench.engine" in text for text in code)
    # the plain split rebuild is the one long cell: it must not import the workbench
    assert max(len(text.splitlines()) for text in code if "hashlib" not in text) <= 16
    accuracy = sources.evaluation().report.accuracy
    assert any(f"{accuracy:.1%}" in cell.text for cell in cells if cell.kind == "markdown")


def test_a_full_recipe_has_no_warning(tmp_path: Path) -> None:
    import shutil

    from workbench.engine.export.notebook_parts import recipe_warnings

    copy = tmp_path / "full"
    shutil.copytree(tiny_run().run_dir, copy)
    document = json.loads((copy / "config.json").read_text())
    assert recipe_warnings(Run(copy))  # 3 epochs
    document["train"]["epochs"] = 30
    (copy / "config.json").write_text(json.dumps(document))
    assert recipe_warnings(Run(copy)) == []
    document["data"]["seed"] = 7
    (copy / "config.json").write_text(json.dumps(document))
    assert [w for w in recipe_warnings(Run(copy)) if "seed is 7" in w]


def test_error_analysis_names_the_confused_pairs_with_their_counts() -> None:
    evaluation = evaluate(load_model(tiny_run().run_dir), tiny_data())
    text = error_analysis_markdown(evaluation)
    wrong = len(evaluation.misclassified)
    if wrong == 0:
        assert "correctly" in text
        return
    assert f"{wrong} of {evaluation.report.count} test images are misclassified" in text
    top = evaluation.report.most_confused[0]
    assert f"{top.true} → {top.predicted}: {top.count}" in text
    assert evaluation.misclassified[0].file_name in text


def test_loss_paragraph_ranks_by_validation_and_gives_every_reason() -> None:
    results = [LossResult("ce", "r1", 0.80), LossResult("focal", "r2", 0.86)]
    text = loss_comparison_markdown(results, {"ce": "default", "focal": "hard ones"}, 300)
    assert "**focal** did best (86.0%" in text and "then ce (80.0%)" in text
    assert "- **ce**: default" in text and "- **focal**: hard ones" in text


def test_api_figures_are_figures_and_import_no_textual(tmp_path: Path) -> None:
    tiny = tiny_run()
    script = f"""
import sys
from matplotlib.figure import Figure
from workbench import api
run = api.open_run({str(tiny.run_dir)!r})
data = api.load_data(run)
model = api.load_model(run)
evaluation = api.evaluate(model, data)
trace = api.autograd_trace()
figures = [
    api.autograd_graph(trace), api.vanishing_gradient(), api.split_grid(data),
    api.augment_grid(data, "builtin"), api.augment_grid(data, "albumentations"),
    api.metric_plot(run, "loss"), api.confusion_matrix(evaluation),
    api.confusion_grid(evaluation), api.first10(evaluation),
    api.random_probabilities(evaluation), api.misclassified(evaluation),
    api.loss_comparison([run]),
]
assert all(isinstance(f, Figure) for f in figures), [type(f) for f in figures]
print(len(figures), sorted(m for m in sys.modules if m.split(".")[0] == "textual"))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["12", "[]"]


def test_the_exported_png_is_the_api_figure(tmp_path: Path) -> None:
    """One figure function behind both: the PNG written by the export and the Figure the API
    returns, saved the same way, are the same picture."""
    import numpy as np
    from PIL import Image

    from workbench import api
    from workbench.engine.export import save_figure
    from workbench.engine.export.evaluation import write_confusion_matrix

    evaluation = evaluate(load_model(tiny_run().run_dir), tiny_data())
    exported = write_confusion_matrix(evaluation.report, tmp_path)[0]
    mine = save_figure(api.confusion_matrix(evaluation), tmp_path / "mine.png", dpi=130)
    assert np.array_equal(np.asarray(Image.open(exported)), np.asarray(Image.open(mine)))


def test_part_k_compares_the_losses_of_sibling_runs(tmp_path: Path) -> None:
    """With a finished run of another loss beside the run, part (k) explains and plots the
    comparison instead of printing the sweep command."""
    import shutil

    from tests.support.tiny_run import tiny_run_config
    from workbench.engine.data import prepare_data
    from workbench.engine.export.notebook_parts import notebook_cells
    from workbench.engine.loop import fit

    tiny = tiny_run()
    runs = tmp_path / "runs"
    shutil.copytree(tiny.run_dir, runs / "ce")
    config = tiny_run_config(tiny.data_dir, tiny.cache_dir, loss="focal")
    assert fit(config, prepare_data(config.data), runs / "focal").state == "finished"
    cells = notebook_cells(Sources.for_run(Run(runs / "ce")))
    k = next(i for i, c in enumerate(cells) if c.text.startswith("## Q3 (k)"))
    part = cells[k:]
    assert any("did best" in c.text and "**focal**" in c.text for c in part)
    assert any(c.kind == "code" and "api.loss_comparison" in c.text for c in part)
    assert not any("workbench sweep --grid loss=" in c.text for c in part)


def test_the_title_names_the_recipe_options_that_are_on() -> None:
    from workbench.config import TrainConfig
    from workbench.engine.export.notebook_parts import recipe_options

    off = TrainConfig(ema=0, mixup=0, cutmix=0, precise_bn=0)
    assert recipe_options(off) == ""
    text = recipe_options(dataclasses.replace(off, ema=0.999, mixup=0.2))
    assert "decay 0.999" in text and "Beta(0.2, 0.2)" in text and "CutMix" not in text
    assert "precise BN" not in text
    cut = recipe_options(dataclasses.replace(off, cutmix=1.0))
    assert "Each training batch had a box" in cut and "mixup" not in cut and "dominant" in cut
    both = recipe_options(dataclasses.replace(off, mixup=0.2, cutmix=1.0))
    assert "either was blended" in both and "or had a box" in both and "even odds" in both
    assert "on 512 un-augmented" in recipe_options(dataclasses.replace(off, precise_bn=512))
