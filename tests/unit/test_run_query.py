"""The one run query: every picker and policy asks it which runs qualify."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.ui.rundirs import write_run
from workbench.engine.run_query import ANY_DATA, UNREADABLE, find_runs, newest_finished_run
from workbench.engine.runs import Run
from workbench.errors import RunFileError


def _run(path: Path, *, age: int, end: str | None = "finished", best: bool = True,
         data: str | None = None, fingerprint: str | None = None) -> Path:  # fmt: skip
    write_run(path, epochs_done=2, epochs=2, end=end, pid=0)
    document = json.loads((path / "config.json").read_text())
    document["data"]["data"] = data
    if fingerprint is not None:
        document["split_fingerprint"] = fingerprint
    (path / "config.json").write_text(json.dumps(document))
    if best:
        (path / "checkpoints").mkdir(exist_ok=True)
        (path / "checkpoints" / "best.pt").write_bytes(b"")
    stamp = 1_700_000_000 - age  # older runs have older config.json files
    os.utime(path / "config.json", (stamp, stamp))
    return path


def _sweep(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text("{}")
    return folder


def test_sweep_runs_are_listed_by_name_newest_first(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    _run(root / "old", age=30)
    sweep = _sweep(root / "sweep-abc")
    _run(sweep / "lr-1", age=10)
    _run(root / "new", age=0)
    names = [entry.name for entry in find_runs(root)]
    assert names == ["new", "sweep-abc/lr-1", "old"]
    assert [entry.name for entry in find_runs(root, sweeps=False)] == ["new", "old"]


def test_filters_state_checkpoint_data_and_split(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    _run(root / "stopped", age=4, end="stopped")
    _run(root / "no-best", age=3, best=False)
    _run(root / "elsewhere", age=2, data="/data/b", fingerprint="f2")
    _run(root / "mine", age=1, data="/data/a", fingerprint="f1")
    finished = find_runs(root, states=("finished",))
    assert [e.name for e in finished] == ["mine", "elsewhere", "no-best"]
    assert [e.name for e in find_runs(root, checkpoint="best")] == ["mine", "elsewhere", "stopped"]
    assert [e.name for e in find_runs(root, data="/data/a")] == ["mine"]
    assert [e.name for e in find_runs(root, data=None)] == ["no-best", "stopped"]
    assert [e.name for e in find_runs(root, fingerprint="f2")] == ["elsewhere"]
    assert find_runs(root, states=("finished",))[0].label == "mine (finished)"


def test_a_damaged_run_is_listed_as_unreadable_and_filtered_out(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    _run(root / "good", age=1)
    bad = _run(root / "bad", age=0)
    (bad / "status.json").write_text("[]")
    listed = {e.name: e for e in find_runs(root)}
    assert listed["bad"].state == UNREADABLE and listed["bad"].problem is not None
    assert listed["good"].state == "finished"
    assert [e.name for e in find_runs(root, checkpoint="best")] == ["good"]
    assert [e.name for e in find_runs(root, data=None)] == ["good"]


def test_newest_finished_run_is_the_one_policy(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    _run(root / "a-old", age=5, data="/d")
    _run(root / "a-new", age=3, data="/d")
    _run(root / "other", age=2, data="/e")
    _run(root / "unfinished", age=1, data="/d", end=None)
    bad = _run(root / "damaged", age=0, data="/d")
    (bad / "status.json").write_text("")
    skipped: list[RunFileError] = []
    found = newest_finished_run(root, "/d", on_skip=skipped.append)
    assert found is not None and found.id == "a-new"
    assert [error.path.parent.name for error in skipped] == ["damaged"]

    # a candidate the caller's check refuses is passed over for the next newest
    def refuse_new(run: Run) -> None:
        if run.id == "a-new":
            raise RunFileError(run.path / "checkpoints" / "best.pt", "truncated")

    again = newest_finished_run(root, "/d", check=refuse_new)
    assert again is not None and again.id == "a-old"
    newest_any = newest_finished_run(root, ANY_DATA)
    assert newest_any is not None and newest_any.id == "other"
    assert newest_finished_run(root, None) is None  # no demo-set run
