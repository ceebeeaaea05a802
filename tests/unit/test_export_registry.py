"""The export registry: every artefact is listed with what it needs, and export_all writes
exactly the files the list declares."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.support.files import png_ok, read_csv
from tests.support.tiny_run import tiny_run, tiny_run_config
from workbench.engine.data import prepare_data
from workbench.engine.device import resolve_device
from workbench.engine.export.registry import (
    ARTEFACTS,
    NEEDS,
    Sources,
    artefact,
    availability,
    comparison_runs,
    export_all,
)
from workbench.engine.loop import fit
from workbench.engine.runs import open_run


def test_every_artefact_is_listed_once_with_a_known_need() -> None:
    names = [entry.name for entry in ARTEFACTS]
    assert len(names) == len(set(names))
    assert {entry.needs for entry in ARTEFACTS} <= set(NEEDS)
    files = [f for entry in ARTEFACTS for f in entry.files]
    # the notebook writes the test report its part (i) checks against, with the report's own
    # writer; no other file belongs to two artefacts
    shared = {f for f in files if files.count(f) > 1}
    assert shared == {"test_report.json"}
    owners = {entry.name for entry in ARTEFACTS if "test_report.json" in entry.files}
    assert owners == {"test_report", "notebook"}
    for required in (
        "split_grid.png",
        "augment_grid_builtin.png",
        "augment_grid_albumentations.png",
        "metrics_f1.png",
        "confusion_matrix.csv",
        "test_first10.png",
        "random_probabilities.png",
        "misclassified.png",
        "test_report.json",
        "loss_comparison.png",
        "autograd_graph.png",
        "vanishing_gradient.png",
        "confusion_grid.png",
        "notebook.ipynb",
    ):
        assert required in files
    with pytest.raises(KeyError, match="no artefact named"):
        artefact("nope")


def test_without_sources_only_q1_q2_apply(tmp_path: Path) -> None:
    reasons = dict((entry.name, reason) for entry, reason in availability(Sources()))
    assert reasons["autograd"] is None and reasons["backprop"] is None
    assert reasons["split_grid"] == "needs a data set"
    assert reasons["confusion_matrix"] == "needs a trained run"
    assert reasons["sweep"] == "needs a sweep folder"
    result = export_all(Sources(), tmp_path, names=["backprop", "metrics"])
    assert sorted(p.name for p in result.written) == [
        "backprop_derivation.md",
        "vanishing_gradient.png",
    ]
    assert result.skipped == [("metrics", "needs a trained run")]


@pytest.mark.slow
def test_export_all_writes_exactly_the_declared_files(tmp_path: Path) -> None:
    run = open_run(tiny_run().run_dir)
    sources = Sources(data_config=run.config().data, run=run)
    seen: list[str] = []
    result = export_all(sources, tmp_path, on_artefact=lambda e, done, total: seen.append(e.name))
    assert seen == [entry.name for entry in ARTEFACTS]
    skipped = dict(result.skipped)
    assert set(skipped) == {"sweep", "loss_comparison"}
    declared = {f for entry in ARTEFACTS if entry.name not in skipped for f in entry.files}
    written = {p.name for p in result.written}
    assert written == declared
    assert {p.name for p in tmp_path.iterdir()} == declared
    assert all(p.parent == tmp_path for p in result.written)
    for name in declared:
        if name.endswith(".png"):
            png_ok(tmp_path / name, min_width=200, min_height=150)
    # a second export replaces the files in place and writes nothing else
    again = export_all(sources, tmp_path, names=["test_report"])
    assert {p.name for p in again.written} == {"test_report.txt", "test_report.json"}
    assert {p.name for p in tmp_path.iterdir()} == declared


@pytest.mark.slow
def test_loss_comparison_from_sibling_runs(tmp_path: Path) -> None:
    tiny = tiny_run()
    runs = tmp_path / "runs"
    for loss in ("ce", "focal"):
        config = tiny_run_config(tiny.data_dir, tiny.cache_dir, epochs=1, loss=loss)
        assert fit(config, prepare_data(config.data), runs / loss).state == "finished"
    other_split = dataclasses.replace(
        tiny_run_config(tiny.data_dir, tiny.cache_dir, epochs=1, loss="brier"),
    )
    data = prepare_data(dataclasses.replace(other_split.data, seed=7))
    fit(dataclasses.replace(other_split, data=data.config), data, runs / "brier-other-split")
    run = open_run(runs / "ce")
    sources = Sources(data_config=run.config().data, run=run)
    chosen = comparison_runs(sources)
    assert [r.id for r in chosen] == ["ce", "focal"]  # brier trained on another split
    result = export_all(sources, tmp_path / "out", names=["loss_comparison"])
    assert [p.name for p in result.written] == ["loss_comparison.png", "loss_comparison.csv"]
    png_ok(result.written[0])
    rows = read_csv(result.written[1])
    assert [row[0] for row in rows[1:]] == ["ce", "focal"]
    assert float(rows[1][4]) == pytest.approx(sources.evaluation().report.accuracy)
    alone = Sources(data_config=run.config().data, run=open_run(tiny.run_dir))
    assert dict((e.name, r) for e, r in availability(alone))["loss_comparison"] is not None


def test_sources_for_a_run_use_its_data_unless_told_where_the_data_moved(tmp_path: Path) -> None:
    """The one constructor of the CLI and the Export screen: the run's own data config, with
    only the path or the cache folder replaced; without a run, the data set given."""
    run = open_run(tiny_run().run_dir)
    own = run.config().data
    assert Sources.for_run(run).data_config == own
    moved = Sources.for_run(run, data=str(tmp_path / "moved"), cache_dir=str(tmp_path / "c"))
    assert moved.data_config == dataclasses.replace(
        own, data=str(tmp_path / "moved"), cache_dir=str(tmp_path / "c")
    )
    assert moved.run is run
    assert moved.device == str(resolve_device("auto"))
    alone = Sources.for_run(None, data="animals.zip")
    assert alone.data_config is not None and alone.data_config.data == "animals.zip"
    assert alone.run is None
