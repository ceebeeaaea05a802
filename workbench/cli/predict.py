"""``workbench predict IMAGE_OR_FOLDER...``: classify any image with a trained run.

The class demo from the shell: the run's best.pt (``weights_only=True``) on images the audience
brings, each prepared exactly as validation prepares the data set's images.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.common import (
    HelpFormatter,
    emit_json,
    err_console,
    options_named,
    out_console,
    progress_bar,
)
from workbench.errors import UsageError

if TYPE_CHECKING:
    from workbench.engine.evaluate import LoadedModel
    from workbench.engine.predict import ImagePrediction, Unreadable

HELP = "classify images (any PIL reads) with a run's best checkpoint: bars, class, Grad-CAM"
DESCRIPTION = """\
Load a run's best checkpoint (default: the newest finished run under --runs-root) on the
fly, prepare each image exactly as validation prepares the data set's (the run's size,
resize mode and normalisation, EXIF orientation applied) and print its class
probabilities as bars, the predicted class and its confidence. A prediction whose entropy
is near its maximum (the model close to guessing, as on an image unlike the training data)
is flagged as low confidence. Folders contribute their image files, sorted.

A file that is not an image is reported in one line and the others go on; the exit code
is 2 only when none could be read.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "predict", help=HELP, description=DESCRIPTION, formatter_class=HelpFormatter
    )
    parser.add_argument(
        "inputs", metavar="IMAGE_OR_FOLDER", nargs="+", help="image files and/or folders of them"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--run", metavar="RUN", default=None, help="a run directory (default: the newest finished)"
    )
    which.add_argument("--checkpoint", metavar="FILE", default=None, help="a checkpoint (.pt)")
    parser.add_argument(
        "--runs-root", metavar="DIR", default="runs", help="where the default run is looked for"
    )
    parser.add_argument(
        "--cam", metavar="DIR", default=None, help="write a Grad-CAM overlay per image into DIR"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parser


def model_source(args: argparse.Namespace) -> str:
    """The run or checkpoint to load: as given, else the newest finished run."""
    from workbench.cli.export import say_passed_over
    from workbench.engine.run_query import ANY_DATA, newest_finished_run

    given = args.run or args.checkpoint
    if given is not None:
        return str(given)
    run = newest_finished_run(args.runs_root, ANY_DATA, on_skip=say_passed_over)
    if run is None:
        raise UsageError(
            f"no finished run with checkpoints/best.pt under {args.runs_root}/: "
            "name one with --run or --checkpoint, or --runs-root DIR"
        )
    return str(run.path)


def run(args: argparse.Namespace) -> int:
    # torch and the engine cost 1-2 s to import; only this command pays for them.
    from workbench.cli.export import check_writable
    from workbench.engine.device import resolve_device
    from workbench.engine.evaluate import load_model
    from workbench.engine.predict import ImagePrediction, expand_inputs, predict_files

    with options_named():
        device = resolve_device(args.device)
    files = expand_inputs(args.inputs)
    if not files:
        raise UsageError(f"{' '.join(args.inputs)}: no image files there; give images or folders")
    if args.cam is not None:
        check_writable(Path(args.cam))
    loaded = load_model(model_source(args), device=device)
    started = time.perf_counter()
    with progress_bar() as progress:
        results = predict_files(loaded, files, progress)
    seconds = time.perf_counter() - started
    predictions = [r for r in results if isinstance(r, ImagePrediction)]
    for result in results:
        if not isinstance(result, ImagePrediction):
            err_console.print(
                f"[yellow]not predicted:[/] {result.file}: {result.reason}", highlight=False
            )
    if not predictions:
        raise UsageError(f"none of the {len(files)} file(s) could be read as an image")
    cams = write_cams(loaded, predictions, Path(args.cam)) if args.cam is not None else []
    if args.json:
        emit_json(document(loaded, results, cams))
    else:
        render(loaded, predictions, seconds, cams)
    return 0


def write_cams(
    loaded: LoadedModel, predictions: Sequence[ImagePrediction], out: Path
) -> list[Path]:
    """One Grad-CAM overlay PNG per image for its predicted class, named after the image."""
    from workbench.engine.export.evaluation import write_prediction_cam
    from workbench.engine.predict import explain

    written: list[Path] = []
    for prediction in predictions:
        name = f"{Path(prediction.file).stem}_cam.png"
        if out / name in written:  # the same name in two folders
            name = f"{Path(prediction.file).stem}_cam_{len(written)}.png"
        cam = explain(loaded, prediction, prediction.predicted)
        written.append(
            write_prediction_cam(prediction, cam, prediction.predicted, loaded.classes, out / name)
        )
    return written


def document(
    loaded: LoadedModel, results: Sequence[ImagePrediction | Unreadable], cams: Sequence[Path]
) -> dict[str, Any]:
    """The ``--json`` document: the model, then one entry per file in the order given."""
    from workbench.engine.predict import LOW_CONFIDENCE, ImagePrediction

    return {
        "run": loaded.name,
        "checkpoint": str(loaded.checkpoint),
        "classes": loaded.classes,
        "image_size": loaded.image_size,
        "low_confidence_at": LOW_CONFIDENCE,
        "predictions": [
            r.to_dict(loaded.classes) for r in results if isinstance(r, ImagePrediction)
        ],
        "unreadable": [
            {"file": r.file, "reason": r.reason}
            for r in results
            if not isinstance(r, ImagePrediction)
        ],
        "cams": [str(path) for path in cams],
    }


def render(
    loaded: LoadedModel,
    predictions: Sequence[ImagePrediction],
    seconds: float,
    cams: Sequence[Path],
) -> None:
    """Per image: its name, the predicted class and confidence, then the bars."""
    from rich.padding import Padding
    from rich.text import Text

    from workbench.render.evaluation import probability_bars

    config = loaded.config.data
    out_console.print(
        f"[bold]{loaded.name}[/]  checkpoint epoch {loaded.epoch}  {loaded.image_size} px "
        f"({config.resize})  classes {', '.join(loaded.classes)}",
        highlight=False,
    )
    for prediction in predictions:
        line = Text.assemble(
            (prediction.file, "bold"),
            "  → ",
            (loaded.classes[prediction.predicted], "bold cyan"),
            f" {prediction.confidence:.1%}",
            (f"  entropy {prediction.relative_entropy:.0%} of max", "dim"),
        )
        if prediction.low_confidence:
            line.append("  low confidence: close to guessing", style="bold yellow")
        out_console.print(line)
        out_console.print(
            Padding(
                probability_bars(prediction.probabilities, loaded.classes, None, 40),
                (0, 2),
                expand=False,
            )
        )
    for path in cams:
        out_console.print(f"wrote {path}", highlight=False)
    per_image = seconds / len(predictions) * 1000
    out_console.print(
        f"[dim]{len(predictions)} image(s) read and predicted in {seconds:.2f} s "
        f"({per_image:.0f} ms per image, {loaded.device})[/]",
        highlight=False,
    )
