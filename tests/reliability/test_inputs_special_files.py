"""Files that are not regular files, and folders reached through links (issue 12, section 2).

A FIFO named like an image blocks whoever ``open()``s it, and a link named like an image that
points at a device never ends; neither may hang or exhaust ``split``, ``train``'s data
preparation or the scan the TUI runs: they are listed as left out, with the reason. Each test
has a timeout, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from workbench.__main__ import main
from workbench.config import DataConfig
from workbench.engine.data import decode_dataset
from workbench.engine.pool import imap_chunks
from workbench.engine.scan import ScanResult, scan_dataset

MakeFolder = Callable[..., Path]

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _device_link(path: Path) -> None:
    path.symlink_to("/dev/zero")


SPECIAL = {"fifo": _fifo, "device-link": _device_link}


Found = tuple[list[str], dict[str, str]]
"""What a consumer made of the folder: the classes, and the reason of each left-out path."""


def _found(scan: ScanResult) -> Found:
    return scan.classes, {s.path: s.reason for s in scan.skipped}


def _split(folder: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> Found:
    """``workbench split --json``, in this process."""
    code = main(["split", "--data", str(folder), "--cache-dir", str(cache), "--json"])
    assert code == 0, capsys.readouterr().err
    document = json.loads(capsys.readouterr().out)
    return document["classes"], {s["path"]: s["reason"] for s in document["skipped"]}


def _prepare(folder: Path, cache: Path, _capsys: pytest.CaptureFixture[str]) -> Found:
    """What ``workbench train`` does before its first epoch: scan, split, decode."""
    config = DataConfig(data=str(folder), image_size=64, cache_dir=str(cache))
    return _found(decode_dataset(config).scan)


def _tui_scan(folder: Path, cache: Path, _capsys: pytest.CaptureFixture[str]) -> Found:
    """The call the TUI's Data screen makes in its worker thread."""
    return _found(scan_dataset(str(folder), cache_dir=str(cache)))


CONSUMERS = {"split": _split, "train-prepare": _prepare, "tui-scan": _tui_scan}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", sorted(SPECIAL))
@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_special_files_among_images_are_left_out_unopened(
    kind: str,
    consumer: str,
    make_image_folder: MakeFolder,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = make_image_folder({"cats": 10, "dogs": 10})
    SPECIAL[kind](folder / "cats" / "x.jpg")
    classes, reasons = CONSUMERS[consumer](folder, cache_dir, capsys)
    assert classes == ["cats", "dogs"]
    assert "not a regular file" in reasons["cats/x.jpg"], reasons


@pytest.mark.timeout(60)
def test_class_folders_that_are_links_are_followed(
    make_image_folder: MakeFolder, cache_dir: Path, tmp_path: Path
) -> None:
    elsewhere = make_image_folder({"cats": 10, "dogs": 11})
    data = tmp_path / "data"
    data.mkdir()
    for name in ("cats", "dogs"):
        (data / name).symlink_to(elsewhere / name, target_is_directory=True)
    scan = scan_dataset(str(data), cache_dir=str(cache_dir))
    assert scan.class_counts() == {"cats": 10, "dogs": 11}
    assert scan.skipped == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("cats/loop", "."),  # the data set's own folder: a cycle
        ("cats/inner/up", "cats"),  # its parent: a cycle one level down
        ("lions", "cats"),  # a second name for a class folder
    ],
)
def test_link_loops_and_second_names_are_reported_not_followed(
    link: str, target: str, make_image_folder: MakeFolder, cache_dir: Path
) -> None:
    data = make_image_folder({"cats": 10, "dogs": 10})
    (data / link).parent.mkdir(parents=True, exist_ok=True)
    (data / link).symlink_to((data / target).resolve(), target_is_directory=True)
    scan = scan_dataset(str(data), cache_dir=str(cache_dir))
    assert scan.class_counts() == {"cats": 10, "dogs": 10}
    reasons = {s.path: s.reason for s in scan.skipped}
    assert "not followed again" in reasons[f"{link}/"], reasons


def _slow_chunk(folder: str, chunk: Sequence[int]) -> int:
    """A unit of pool work that leaves a trace, so the test can count how many ran."""
    time.sleep(0.05)
    Path(folder, f"chunk-{chunk[0]}").touch()
    return len(chunk)


@pytest.mark.timeout(120)
def test_an_interrupted_scan_drops_the_work_not_started(tmp_path: Path) -> None:
    """Ctrl-C while the pool works: the chunks not started are dropped, not all waited for
    (which made Ctrl-C seem ignored on a large data set)."""
    import functools

    items = list(range(400))  # 400 one-item chunks at 0.05 s each: 10 s on two workers
    with pytest.raises(KeyboardInterrupt):
        for _ in imap_chunks(
            functools.partial(_slow_chunk, str(tmp_path)),
            items,
            chunk_size=1,
            task="test",
            workers=2,
        ):
            raise KeyboardInterrupt
    ran = len(list(tmp_path.glob("chunk-*")))
    assert ran < len(items) // 2, f"{ran} of {len(items)} chunks ran after the interrupt"


@pytest.mark.timeout(120, method="thread")
@pytest.mark.parametrize("kind", sorted(SPECIAL))
async def test_the_tui_data_screen_lists_it_as_left_out_and_finishes_loading(
    kind: str,
    make_image_folder: MakeFolder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Data screen's worker thread finishes (a FIFO blocked it in ``open()``, and Quit
    then never ended the process) and the left-out list names the file. A regression would
    leave that thread stuck after the test failed, so the timeout ends the whole run
    (``method="thread"``) rather than let the suite hang at exit."""
    from textual.widgets import Static

    from tests.ui.helpers import settle
    from workbench.app import WorkbenchApp
    from workbench.screens.data import DataScreen

    folder = make_image_folder({"cats": 10, "dogs": 10})
    SPECIAL[kind](folder / "cats" / "x.jpg")
    monkeypatch.chdir(tmp_path)
    app = WorkbenchApp(
        data=str(folder), cache_dir=str(tmp_path / "cache"), runs_root=tmp_path / "runs"
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DataScreen) and screen.prepared is not None
        skipped = str(screen.query_one("#skipped", Static).render())
        assert "cats/x.jpg" in skipped and "not a regular file" in skipped, skipped


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_bench_reads_only_what_the_scan_found_usable(
    kind: str, make_image_folder: MakeFolder, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`workbench bench` times a notebook's ImageFolder pipeline too; ImageFolder alone opens
    anything named like an image. It reads only the scan's usable files, and finishes."""
    folder = make_image_folder({"cats": 10, "dogs": 10})
    SPECIAL[kind](folder / "cats" / "x.jpg")
    argv = [
        "bench", "--data", str(folder), "--image-size", "64", "--batch-size", "7",
        "--batches", "3", "--warmup", "0", "--num-workers", "0", "--cache-dir", str(cache_dir),
        "--device", "cpu", "--json",
    ]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    rows = json.loads(capsys.readouterr().out)["rows"]
    # 21 files named like images, 20 usable: 3 batches of 7 would need the FIFO's place
    assert rows[0]["pipeline"] == "notebook" and rows[0]["images"] > 0
