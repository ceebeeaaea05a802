"""``workbench present [--run RUN]``: the TUI as the class presentation's slides."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.cli.common import HelpFormatter
from workbench.errors import UsageError

HELP = "the assignment as slides in the TUI, ending on the live demo (space next, backspace back)"
DESCRIPTION = """\
Open the workbench as a presentation of the assignment, in its order: Q1's graph
stepped to the gradients, Q2's derivation and where it vanishes, the split grid, the
augmentations, the training curves, the runs compared (when there are several), the
test metrics and confusion matrix, the misclassified with Grad-CAM, then the live Demo.
Each slide is a screen of the workbench with a one-line caption on top. Space or Page
Down advances, Backspace or Page Up goes back; every screen's own keys still work.
The Data slides show the run's own data set. Nothing is downloaded.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "present", help=HELP, description=DESCRIPTION, formatter_class=HelpFormatter
    )
    parser.add_argument(
        "--run", metavar="RUN", default=None, help="a run directory (default: the newest finished)"
    )
    parser.add_argument("--runs-root", metavar="DIR", default="runs", help="where runs are")
    parser.add_argument(
        "--cache-dir", metavar="DIR", default=None, help="decoded-image cache folder"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from workbench.engine.runs import open_run
    from workbench.presentation import Presentation

    root = Path(args.runs_root).expanduser()
    chosen = open_run(Path(args.run).expanduser()).path if args.run is not None else None
    presentation = Presentation.for_runs(root, chosen)
    if presentation.run is None:
        raise UsageError(
            f"no finished run under {root}/ to present: train one (`workbench train`), "
            "or name it with --run (or --runs-root DIR)"
        )
    data = open_run(presentation.run).config().data.data
    # As for the TUI: textual-image asks the terminal about graphics before the app starts.
    import textual_image.widget  # noqa: F401

    from workbench.app import WorkbenchApp

    app = WorkbenchApp(
        data=data, cache_dir=args.cache_dir, runs_root=root, presentation=presentation
    )
    app.run()
    return int(app.return_code or 0)
