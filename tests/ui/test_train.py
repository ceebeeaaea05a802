"""The Train screen: form validation, model summary, attaching to run directories."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, RichLog, Static

from tests.ui.helpers import settle
from tests.ui.rundirs import write_run
from workbench.config import ModelConfig, RunConfig, with_values
from workbench.engine.runs import RunLock
from workbench.screens.train import TrainScreen, form_errors
from workbench.widgets.plots import MetricPlot


async def _ready(app, pilot) -> TrainScreen:  # type: ignore[no-untyped-def]
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, TrainScreen)
    return screen


def test_form_errors_marks_every_bad_field() -> None:
    values = {
        "image_size": 128, "epochs": "zero", "batch_size": "0", "lr": "-1", "optimizer": "adamw",
        "schedule": "cosine", "loss": "ce", "augment": "builtin", "seed": "42", "device": "tpu",
        "widths": "8,16", "convs_per_stage": "1", "stem": "4", "residual": "off",
        "squeeze_excite": "on", "dropout": "0.3", "ema": "0", "mixup": "0", "cutmix": "0",
        "precise_bn": "0", "nproc_per_node": "1",
    }  # fmt: skip
    config, errors = form_errors(values, None, None)
    assert config is None
    assert set(errors) == {"epochs", "batch_size", "lr", "device"}
    values.update(epochs="2", batch_size="8", lr="1e-3", device="cpu")
    config, errors = form_errors(values, None, None)
    assert errors == {}
    assert config is not None and config.train.epochs == 2
    assert config.model == ModelConfig(
        widths=(8, 16), convs_per_stage=1, stem=4, residual=False, squeeze_excite=True, dropout=0.3
    )
    values.update(epochs="1")  # the CLI's rule: the warm-up is cut to the run's length
    config, errors = form_errors(values, None, None)
    assert errors == {} and config is not None
    assert (config.train.epochs, config.train.warmup_epochs) == (1, 1)
    values.update(widths="8,x", convs_per_stage="9", stem="-1", dropout="1.5")
    assert set(form_errors(values, None, None)[1]) == {
        "widths",
        "convs_per_stage",
        "stem",
        "dropout",
    }


async def test_bad_values_refuse_start(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        screen.query_one("#f-lr", Input).value = "fast"
        await pilot.pause()
        assert screen.query_one("#f-lr").has_class("-invalid")
        assert "number" in str(screen.query_one("#e-lr", Static).render())
        screen.set_focus(None)
        await pilot.press("s")
        await pilot.pause()
        assert screen.tail is None
        assert list(runs_root.iterdir()) == []
        assert any("Not started" in n.message for n in app._notifications)


async def test_model_summary_follows_image_size(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(start_mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        text = str(screen.query_one("#model-summary", Static).render())
        assert "parameters" in text and "3×128×128" in text
        from textual.widgets import Select

        screen.query_one("#f-image_size", Select).value = 64
        await pilot.pause()
        await settle(pilot)
        assert "3×64×64" in str(screen.query_one("#model-summary", Static).render())


async def test_model_switches_reach_the_config_and_the_summary(make_app) -> None:  # type: ignore[no-untyped-def]
    """The form's default is the CLI's default model; turning the residual units off gives the
    plain network, with the parameter count the engine reports for it."""
    from textual.widgets import Select

    from workbench.engine.model import build_model, summarize

    app = make_app(start_mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        assert screen.config is not None and screen.config.model == ModelConfig()
        screen.query_one("#f-lr", Input).value = "fast"  # a field the network does not need
        await pilot.pause()
        screen.query_one("#f-residual", Select).value = "off"
        screen.query_one("#f-stem", Input).value = "0"
        await pilot.pause()
        await settle(pilot)
        plain = ModelConfig(residual=False, stem=0)
        assert screen.config is None and set(screen.errors) == {"lr"}
        screen.query_one("#f-lr", Input).value = "0.003"
        await pilot.pause()
        assert screen.config is not None and screen.config.model == plain
        params = summarize(build_model(plain, 3), 128).total_params
        text = str(screen.query_one("#model-summary", Static).render())
        assert f"{params / 1e6:.2f} M parameters" in text
        assert "stem" not in text


async def test_finished_run_shows_full_curves(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    write_run(runs_root / "r1", epochs_done=3, epochs=3)
    app = make_app(start_mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        assert screen.tail is not None and screen.tail.state.state == "finished"
        loss = screen.query_one("#plot-loss", MetricPlot)
        assert [label for label, _, _ in loss.series] == ["train", "val"]
        assert list(loss.series[0][1]) == [1, 2, 3]
        assert len(screen.query_one("#plot-batch", MetricPlot).series[0][1]) == 6
        assert "finished" in str(screen.query_one("#run-header", Static).render())
        assert len(screen.query_one("#run-log", RichLog).lines) >= 4


async def test_failed_run_says_why(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    write_run(runs_root / "bad", epochs_done=2, end="failed")
    app = make_app(start_mode="train")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(app, pilot)
        header = str(screen.query_one("#run-header", Static).render())
        assert "NaN" in header and "failed" in header


async def test_running_run_is_attached_and_gone_process_is_lost(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    write_run(runs_root / "old", epochs_done=3, epochs=3)
    write_run(runs_root / "live", epochs_done=1, end=None)
    app = make_app(start_mode="train")
    # This test process is the "trainer": it holds the run's lock, as a training process does.
    with RunLock.acquire(runs_root / "live"):
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _ready(app, pilot)
            assert screen.tail is not None and screen.tail.run_dir.name == "live"
            assert screen.tail.state.state == "running"
            assert "live" in app.run_status
            note = screen.exit_note()
            assert note is not None and "keeps training" in note


async def test_run_whose_process_died_is_lost_and_resumable(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_run(runs_root / "killed", epochs_done=1, end=None, pid=dead.pid)
    app = make_app(start_mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        assert screen.tail is not None and screen.tail.state.state == "lost"
        assert "r resumes" in str(screen.query_one("#run-header", Static).render())
        assert screen.exit_note() is None  # nothing keeps going in the background


class _Launches:
    """Stands in for :func:`workbench.tui_launch.start_training`: records what would train and
    starts a process that exits at once, so no test trains by accident."""

    def __init__(self) -> None:
        self.argv: list[list[str]] = []

    def __call__(self, argv: list[str], run_dir: Path, **_: object) -> subprocess.Popen[bytes]:
        self.argv.append(argv)
        return subprocess.Popen([sys.executable, "-c", "pass"])


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> _Launches:
    from workbench import tui_launch

    fake = _Launches()
    monkeypatch.setattr(tui_launch, "start_training", fake)
    return fake


async def test_a_data_path_that_failed_to_load_is_not_trained_on(
    make_app, runs_root: Path, tiny_images: Path, launches: _Launches
) -> None:  # type: ignore[no-untyped-def]
    """The Data screen loaded the tiny set, then failed on a path that does not exist: s on the
    Train screen refuses (no run folder) and says where to fix it; once the path loads, s starts."""
    app = make_app(start_mode="data")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.class_names == ("cat", "dog", "panda")
        data_screen = app.screen
        path = data_screen.query_one("#data-path", Input)
        path.value = "/nonexistent/animals"
        await path.action_submit()
        await settle(pilot)
        assert data_screen.prepared is None  # the load failed
        await pilot.press("2")
        screen = await _ready(app, pilot)
        assert screen.errors == {}
        assert "Data screen (1)" in str(screen.query_one("#form-status", Static).render())
        await pilot.press("s")
        await pilot.pause()
        assert screen.tail is None and launches.argv == []
        assert list(runs_root.iterdir()) == []
        refusal = [n.message for n in app._notifications][-1]
        assert "/nonexistent/animals" in refusal and "Data screen (1)" in refusal
        await pilot.press("1")
        path.value = str(tiny_images)
        await path.action_submit()
        await settle(pilot)
        await pilot.press("2")
        assert "Data screen" not in str(screen.query_one("#form-status", Static).render())
        await pilot.press("s")
        await settle(pilot)
        assert len(launches.argv) == 1 and screen.tail is not None
        assert [p.name for p in runs_root.iterdir()] == [screen.tail.run_dir.name]


VIEWED = {
    "image_size": 64, "epochs": 10, "lr": 3e-4, "loss": "focal", "widths": (8, 16),
    "residual": False, "weight_decay": 0.01, "grad_clip": 1.0,  # the last two are not on the form
}  # fmt: skip


def _form_shows(screen: TrainScreen, config: RunConfig) -> dict[str, str]:
    """Each form field next to the viewed config's value, as the form spells them."""
    from textual.widgets import Select

    shown: dict[str, str] = {}
    for offered in screen.fields:
        widget = screen.query_one(f"#f-{offered.name}")
        assert isinstance(widget, (Input, Select))
        wanted = getattr(getattr(config, offered.section), offered.name)
        if str(widget.value) != offered.text(wanted):
            shown[offered.name] = f"{widget.value} != {offered.text(wanted)}"
    return shown


async def test_the_form_is_the_viewed_runs_and_starts_a_new_run_from_it(
    make_app, runs_root: Path, tiny_images: Path, tmp_path: Path, launches: _Launches
) -> None:  # type: ignore[no-untyped-def]
    """Opened from the Runs screen (Enter), a 64 px, 10-epoch run fills the form; one field
    changed and s: a new run whose config is the viewed one's but for that field."""
    session = {"data": str(tiny_images), "cache_dir": str(tmp_path / "cache")}
    viewed_config = with_values(None, {**VIEWED, **session}).validate()
    viewed = write_run(runs_root / "viewed", epochs=10, config=viewed_config)
    write_run(runs_root / "other", epochs_done=2, epochs=2)
    viewed_json = (viewed / "config.json").read_text()
    app = make_app(start_mode="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(str(viewed)))
        await pilot.press("enter")
        screen = await _ready(app, pilot)
        assert screen.tail is not None and screen.tail.run_dir == viewed
        assert _form_shows(screen, viewed_config) == {}
        title = str(screen.query_one("#form-title", Static).render())
        assert " ".join(title.split()).lower() == "new run from viewed"
        screen.query_one("#f-lr", Input).value = "0.001"
        await pilot.pause()
        screen.set_focus(None)
        await pilot.press("s")
        await settle(pilot)
        assert len(launches.argv) == 1
        new_dir = screen.tail.run_dir
        assert new_dir != viewed and new_dir.parent == runs_root
        launched = json.loads((new_dir / "config.json").read_text())  # what `train` is given
        assert RunConfig.from_dict(launched) == with_values(viewed_config, {"lr": 1e-3})
        assert (viewed / "config.json").read_text() == viewed_json  # never overwritten


async def test_reattaching_shows_the_runs_config(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    """The run shown on opening the Train screen (the newest) fills the form too."""
    viewed_config = with_values(None, VIEWED).validate()
    write_run(runs_root / "small", epochs=10, config=viewed_config)
    app = make_app(start_mode="train")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _ready(app, pilot)
        assert screen.tail is not None and screen.tail.run_dir.name == "small"
        assert _form_shows(screen, viewed_config) == {}
        text = str(screen.query_one("#model-summary", Static).render())
        assert "3×64×64" in text
        # at 80 columns nothing is cut: the log wraps at its own width, the title keeps the id
        log = screen.query_one("#run-log", RichLog)
        assert log.lines and max(line.cell_length for line in log.lines) <= log.size.width
        title = screen.query_one("#form-title", Static)
        assert title.size.width >= len("small") and title.size.height == 2


HOLDER = """
import signal, sys
from workbench.engine.runs import RunLock
lock = RunLock.acquire(sys.argv[1])
signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
print("locked", flush=True)
sys.stdin.read()
"""
"""A training process of another session, still preparing its data: it holds the run's lock
but has written no status yet; SIGINT ends it with 130, closing its stdin ends it with 0."""


@pytest.fixture
def other_session(runs_root: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A run launched by another workbench (its config.json only) and the process training it."""
    from workbench import tui_launch

    run_dir, _ = tui_launch.new_run(runs_root, RunConfig())
    holder = _hold(run_dir)
    yield run_dir, holder
    if holder.poll() is None:
        holder.communicate("")


def _hold(run_dir: Path) -> subprocess.Popen[str]:
    """Start a :data:`HOLDER` on ``run_dir``, once it holds the lock."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


async def test_x_offers_to_stop_a_run_another_process_trains(make_app, other_session) -> None:  # type: ignore[no-untyped-def]
    """The mode bar shows the run training; x asks, y sends SIGINT to the lock's holder."""
    from workbench.screens.confirm import ConfirmScreen

    run_dir, holder = other_session
    app = make_app(start_mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        assert run_dir.name in app.run_status
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert f"pid {holder.pid}" in app.screen.question
        await pilot.press("y")
        assert await asyncio.to_thread(holder.wait) == 130
        assert app.screen is screen


async def test_a_second_run_asks_before_sharing_the_machine(
    make_app, runs_root: Path, other_session, launches: _Launches
) -> None:  # type: ignore[no-untyped-def]
    from workbench.screens.confirm import ConfirmScreen

    run_dir, _ = other_session
    app = make_app(start_mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _ready(app, pilot)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert run_dir.name in app.screen.question and "share" in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        assert launches.argv == [] and [p.name for p in runs_root.iterdir()] == [run_dir.name]
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert len(launches.argv) == 1
        assert screen.tail is not None and screen.tail.run_dir != run_dir


async def test_x_offers_a_sweep_run_beside_a_finished_one(make_app, runs_root: Path) -> None:  # type: ignore[no-untyped-def]
    """The viewed run is done, but a sweep trains one of its runs: x offers to stop that one,
    and n leaves it training."""
    from workbench.screens.confirm import ConfirmScreen

    sweep = runs_root / "sweep-abc"
    (sweep / "lr-0.001").mkdir(parents=True)
    (sweep / "sweep.json").write_text("{}")
    holder = _hold(sweep / "lr-0.001")
    try:
        write_run(runs_root / "done")
        app = make_app(start_mode="train")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await _ready(app, pilot)
            assert screen.tail is not None and screen.tail.run_dir.name == "done"
            await pilot.press("x")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            assert "sweep-abc/lr-0.001" in app.screen.question
            await pilot.press("n")
            await pilot.pause()
            assert app.screen is screen and holder.poll() is None
    finally:
        holder.communicate("")


async def test_a_sweep_asks_before_sharing_the_machine(
    make_app, runs_root: Path, other_session, launches: _Launches
) -> None:  # type: ignore[no-untyped-def]
    """While another process trains, a sweep from the Runs screen asks first: n starts
    nothing, y starts the sweep."""
    from workbench.screens.confirm import ConfirmScreen
    from workbench.screens.sweep_form import SweepRequest

    run_dir, _ = other_session
    request = SweepRequest(grid=("lr=0.001,0.0003",), epochs=1, image_size=64, runs=2)
    app = make_app(start_mode="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.start_sweep(request)  # what the sweep form's ctrl+s hands back
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "A sweep of 2 runs" in app.screen.question and run_dir.name in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        assert launches.argv == []
        screen.start_sweep(request)
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert len(launches.argv) == 1 and "sweep" in launches.argv[0]
