"""The list of every artefact, what each needs, and the one function that writes it.

The TUI's export screen lists :data:`ARTEFACTS` (name, title, files, needs) and lets the user
pick; ``workbench --export`` calls :func:`export_all`. Both go through :class:`Sources`, which
computes the expensive inputs (the prepared data, the evaluation of the run) once, on first use,
so exporting one artefact costs only what it needs.

``needs`` is one of :data:`NEEDS`: ``nothing`` (Q1/Q2), ``data`` (a data set), ``run`` (a
trained run; its test evaluation is computed on the fly) or ``sweep`` (a sweep folder).
An artefact may also not apply for a reason of its own (``loss_comparison`` needs runs with at
least two different losses); :func:`availability` says why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.config import DataConfig
from workbench.engine.progress import ProgressFn

if TYPE_CHECKING:  # torch-heavy modules, imported by the functions that use them
    from workbench.engine.evaluate import Evaluation
    from workbench.engine.prepared import PreparedData
    from workbench.engine.runs import Run
    from workbench.engine.sweep import SweepSummary

NEEDS = ("nothing", "data", "run", "sweep")


@dataclass
class Sources:
    """What the artefacts are made from. ``run`` and ``sweep`` are optional; ``data_config``
    is the data set (for a run: the run's own, with a replaced path if the data moved)."""

    data_config: DataConfig | None = None
    run: Run | None = None
    sweep: Path | None = None
    device: str = "cpu"
    seed: int = 0
    """Seed of the random draw in random_probabilities.png (change it to draw again)."""
    progress: ProgressFn | None = None
    _evaluation: Evaluation | None = field(default=None, repr=False)
    _prepared: dict[str, PreparedData] = field(default_factory=dict, repr=False)

    @classmethod
    def for_run(
        cls,
        run: Run | None,
        *,
        data: str | None = None,
        cache_dir: str | None = None,
        sweep: Path | None = None,
        progress: ProgressFn | None = None,
    ) -> Sources:
        """The sources of ``workbench --export`` and of the Export screen, built one way so both
        write the same files: the run's own data config (``data`` replaces its path, for a data
        set that moved; without a run, ``data`` is the data set), ``cache_dir`` replacing its
        cache folder, the device picked automatically."""
        from workbench.engine.device import resolve_device

        if run is None:
            data_config = DataConfig(data=data)
        else:
            data_config = run.config().data
            if data is not None:
                data_config = dataclasses.replace(data_config, data=data)
        if cache_dir is not None:
            data_config = dataclasses.replace(data_config, cache_dir=cache_dir)
        return cls(
            data_config=data_config,
            run=run,
            sweep=sweep,
            device=str(resolve_device("auto")),
            progress=progress,
        )

    def prepared(self, config: DataConfig) -> PreparedData:
        """PreparedData for ``config``, prepared once per config."""
        from workbench.engine.data import prepare_data

        key = repr(dataclasses.asdict(config))
        if key not in self._prepared:
            self._prepared[key] = prepare_data(config, self.progress)
        return self._prepared[key]

    def data(self) -> PreparedData:
        if self.data_config is None:
            raise ValueError("no data set given")
        return self.prepared(self.data_config)

    def evaluation(self) -> Evaluation:
        """The run's test evaluation (best checkpoint), computed once."""
        from workbench.engine.evaluate import evaluate, load_model

        if self._evaluation is None:
            if self.run is None:
                raise ValueError("no run given")
            loaded = load_model(self.run.path, device=self.device)
            self._evaluation = evaluate(loaded, self.data(), progress=self.progress)
        return self._evaluation

    @property
    def evaluated(self) -> Evaluation | None:
        """The evaluation if an artefact has computed it already, else None (never computes)."""
        return self._evaluation

    def sweep_summary(self) -> SweepSummary:
        from workbench.engine.sweep import read_sweep

        if self.sweep is None:
            raise ValueError("no sweep given")
        return read_sweep(self.sweep)


# --------------------------------------------------------------------------- the writers


def _autograd(_sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.autograd.trace import trace_expression
    from workbench.engine.export.autograd import write_autograd_artefacts

    return write_autograd_artefacts(trace_expression(), out)


def _backprop(_sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.backprop import write_backprop_artefacts

    return write_backprop_artefacts(out)


def _split_grid(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.data import write_split_grid

    return write_split_grid(sources.data(), out)


def _augment(backend: str) -> Callable[[Sources, Path], list[Path]]:
    def write(sources: Sources, out: Path) -> list[Path]:
        from workbench.engine.export.data import write_augment_grid

        return write_augment_grid(sources.data(), out, backend)

    return write


def _metrics(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.training import write_training_artefacts

    assert sources.run is not None
    return write_training_artefacts(sources.run, out)


def _sweep(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.sweep import write_sweep_artefacts

    return write_sweep_artefacts(sources.sweep_summary(), out)


def _confusion(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.evaluation import write_confusion_matrix

    return write_confusion_matrix(sources.evaluation().report, out)


def _first10(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.evaluation import write_test_first10

    return write_test_first10(sources.evaluation(), out)


def _random(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.evaluation import write_random_probabilities

    return write_random_probabilities(sources.evaluation(), out, seed=sources.seed)


def _confusion_grid(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.evaluation import write_confusion_grid

    return write_confusion_grid(sources.evaluation(), out, seed=sources.seed)


def _misclassified(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.evaluation import write_misclassified

    return write_misclassified(sources.evaluation(), out)


def _report(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.evaluation import write_test_report

    return write_test_report(sources.evaluation().report, out)


# ------------------------------------------------------------------------ loss comparison


def comparison_runs(sources: Sources) -> list[Run]:
    """The best finished run of each loss among the sweep's runs (with a sweep) or the run's
    sibling runs, all on the run's split; empty if fewer than two losses are found."""
    from workbench.engine.run_query import find_runs
    from workbench.errors import RunFileError

    if sources.sweep is not None:
        folder = Path(sources.sweep)
    elif sources.run is not None:
        folder = sources.run.path.parent
    else:
        return []
    try:
        fingerprint = (
            sources.run.config_document().get("split_fingerprint") if sources.run else None
        )
    except RunFileError:
        return []  # the run's own damage is reported where the run itself is read
    best: dict[str, tuple[float, Run]] = {}
    for entry in find_runs(folder, sweeps=False, states=("finished",), fingerprint=fingerprint):
        try:  # a damaged run is left out of the comparison; its neighbours still count
            loss = entry.run.config().train.loss
            score = max((row.accuracy for row in entry.run.metrics("val")), default=-1.0)
        except RunFileError:
            continue
        if loss not in best or score > best[loss][0]:
            best[loss] = (score, entry.run)
    if len(best) < 2:
        return []
    return [best[loss][1] for loss in sorted(best)]


def _loss_applies(sources: Sources) -> str | None:
    if comparison_runs(sources):
        return None
    return "needs finished runs with at least two different losses on the same split"


def _loss_comparison(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.evaluate import evaluate, evaluation_data_config, load_model
    from workbench.engine.export.sweep import LossRun, write_loss_comparison
    from workbench.errors import RunFileError

    runs = []
    own = sources.run.path if sources.run is not None else None
    for run in comparison_runs(sources):
        path = run.path
        if own is not None and path == own:
            accuracy = sources.evaluation().report.accuracy
        else:
            try:
                loaded = load_model(path, device=sources.device)
            except RunFileError:
                continue  # a damaged checkpoint leaves that run out, not the comparison
            config = evaluation_data_config(loaded)
            if sources.data_config is not None:
                config = dataclasses.replace(
                    config, data=sources.data_config.data, cache_dir=sources.data_config.cache_dir
                )
            evaluation = evaluate(loaded, sources.prepared(config), explained=0)
            accuracy = evaluation.report.accuracy
        runs.append(LossRun(run.config().train.loss, path.name, run.metrics("val"), accuracy))
    if len({entry.loss for entry in runs}) < 2:
        return []
    return write_loss_comparison(runs, out)


def _notebook(sources: Sources, out: Path) -> list[Path]:
    from workbench.engine.export.notebook import write_notebook

    return write_notebook(sources, out, progress=sources.progress)


# ------------------------------------------------------------------------------ registry


def _always(_sources: Sources) -> str | None:
    return None


@dataclass(frozen=True)
class Artefact:
    """One entry of the export list."""

    name: str
    title: str
    files: tuple[str, ...]
    """The files it writes (``<...>`` marks a part that depends on the input)."""
    needs: str
    """One of NEEDS."""
    question: str
    """Which part of the assignment it answers."""
    write: Callable[[Sources, Path], list[Path]] = field(repr=False)
    applies: Callable[[Sources], str | None] = field(default=_always, repr=False)
    """None if it can be written from these sources, else why not (beyond ``needs``)."""


ARTEFACTS: tuple[Artefact, ...] = (
    Artefact(
        "autograd",
        "Q1 computation graph, steps and check",
        ("autograd_graph.png", "autograd_graph.dot", "autograd_steps.md", "autograd_check.txt"),
        "nothing",
        "Q1",
        _autograd,
    ),
    Artefact(
        "backprop",
        "Q2 delta-rule derivation and vanishing gradients",
        ("backprop_derivation.md", "vanishing_gradient.png"),
        "nothing",
        "Q2",
        _backprop,
    ),
    Artefact(
        "split_grid",
        "first 5 images of each split per class",
        ("split_grid.png", "split_grid.csv"),
        "data",
        "Q3 a",
        _split_grid,
    ),
    Artefact(
        "augment_grid_builtin",
        "built-in augmentations of one image",
        ("augment_grid_builtin.png", "augment_grid_builtin.txt"),
        "data",
        "Q3 d",
        _augment("builtin"),
    ),
    Artefact(
        "augment_grid_albumentations",
        "albumentations augmentations of one image",
        ("augment_grid_albumentations.png", "augment_grid_albumentations.txt"),
        "data",
        "Q3 d",
        _augment("albumentations"),
    ),
    Artefact(
        "metrics",
        "loss/accuracy/precision/recall/F1 per epoch, train and validation",
        (
            "metrics_loss.png",
            "metrics_accuracy.png",
            "metrics_precision.png",
            "metrics_recall.png",
            "metrics_f1.png",
            "train.txt",
            "val.txt",
        ),
        "run",
        "Q3 f",
        _metrics,
    ),
    Artefact(
        "sweep",
        "hyper-parameter sweep: curves and best accuracy per value",
        ("sweep_<hyper-parameter>.png", "sweep_summary.txt"),
        "sweep",
        "Q3 f",
        _sweep,
    ),
    Artefact(
        "confusion_matrix",
        "test confusion matrix (counts and row %)",
        ("confusion_matrix.png", "confusion_matrix.csv"),
        "run",
        "Q3 j",
        _confusion,
    ),
    Artefact(
        "test_first10",
        "first 10 test images of each class, true and predicted",
        ("test_first10.png", "test_first10.csv"),
        "run",
        "Q3 h",
        _first10,
    ),
    Artefact(
        "random_probabilities",
        "random test images per class with softmax bars",
        ("random_probabilities.png", "random_probabilities.csv"),
        "run",
        "Q3 j",
        _random,
    ),
    Artefact(
        "confusion_grid",
        "confusion matrix with pictures: a test image per cell with softmax bars",
        ("confusion_grid.png", "confusion_grid.csv"),
        "run",
        "Q3 j",
        _confusion_grid,
    ),
    Artefact(
        "misclassified",
        "worst misclassified test images with Grad-CAM",
        ("misclassified.png", "misclassified.csv"),
        "run",
        "Q3 g",
        _misclassified,
    ),
    Artefact(
        "test_report",
        "test metrics, per-class table, confusion matrix, provenance",
        ("test_report.txt", "test_report.json"),
        "run",
        "Q3 h, i",
        _report,
    ),
    Artefact(
        "loss_comparison",
        "runs with different losses: validation curves and test accuracy",
        ("loss_comparison.png", "loss_comparison.csv"),
        "run",
        "Q3 k",
        _loss_comparison,
        _loss_applies,
    ),
    Artefact(
        "notebook",
        "the assignment's notebook for the run, executed (Q1, Q2, Q3 a-k)",
        ("notebook.ipynb", "test_report.json"),
        "run",
        "Q1-Q3",
        _notebook,
    ),
)


def artefact(name: str) -> Artefact:
    for entry in ARTEFACTS:
        if entry.name == name:
            return entry
    raise KeyError(f"no artefact named {name!r}; one of {', '.join(a.name for a in ARTEFACTS)}")


def missing_need(entry: Artefact, sources: Sources) -> str | None:
    """Why ``sources`` cannot feed ``entry`` (None: they can)."""
    if entry.needs == "data" and sources.data_config is None and sources.run is None:
        return "needs a data set"
    if entry.needs == "run" and sources.run is None:
        return "needs a trained run"
    if entry.needs == "sweep" and sources.sweep is None:
        return "needs a sweep folder"
    return entry.applies(sources)


def availability(sources: Sources) -> list[tuple[Artefact, str | None]]:
    """Every artefact with None (it can be written) or the reason it cannot."""
    return [(entry, missing_need(entry, sources)) for entry in ARTEFACTS]


@dataclass
class ExportResult:
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(artefact name, reason) of every artefact that did not apply."""


def export_all(
    sources: Sources,
    out_dir: str | Path,
    *,
    names: Sequence[str] | None = None,
    on_artefact: Callable[[Artefact, int, int], None] | None = None,
) -> ExportResult:
    """Write every artefact that applies (or only ``names``) into ``out_dir``.

    ``on_artefact(entry, done, total)`` is called before each artefact (for a progress bar).
    """
    out = Path(out_dir)
    chosen = [artefact(name) for name in names] if names is not None else list(ARTEFACTS)
    result = ExportResult()
    for done, entry in enumerate(chosen):
        if on_artefact is not None:
            on_artefact(entry, done, len(chosen))
        reason = missing_need(entry, sources)
        if reason is not None:
            result.skipped.append((entry.name, reason))
            continue
        # a file two artefacts write (the notebook writes the test report it checks) is one
        result.written.extend(p for p in entry.write(sources, out) if p not in result.written)
    return result
