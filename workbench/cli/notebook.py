"""``workbench notebook [RUN]``: the student's notebook for a run, executed, optionally as HTML.

The run defaults to the newest finished run for ``--data`` (as ``workbench --export`` picks);
a sweep folder as RUN (or ``--sweep``) adds the hyper-parameter plots, and a sweep for the same
data under ``runs/`` is found on its own. The notebook and the ``test_report.json`` its part (i)
checks against go to ``exports/<run-id>/`` unless ``--out`` names the notebook file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.common import HelpFormatter, emit_json, err_console, out_console, progress_bar
from workbench.errors import UsageError

if TYPE_CHECKING:
    from workbench.engine.runs import Run

HELP = "write the assignment's notebook for a run, executed (Q1, Q2, Q3 a-k)"
DESCRIPTION = """\
Write a Jupyter notebook (nbformat 4) that presents a trained run in the assignment's
order: setup (seeds, versions, device, data, split fingerprint), Q1 autograd, Q2 the
delta rule, and Q3 (a) to (k): the split rebuilt without the workbench, the loader's
one-hot batch, the network and its softmax, augmentations, a proof that validation
changes nothing, metric files and plots, misclassified images with Grad-CAM and a
drafted explanation, test metrics, best.pt loaded on the fly, confusion matrices and
the loss comparison. Unless --no-execute, every cell is run in a fresh Python kernel
so the file is delivered with its outputs; --html also writes it as one HTML page.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "notebook", help=HELP, description=DESCRIPTION, formatter_class=HelpFormatter
    )
    parser.add_argument(
        "run",
        metavar="RUN",
        nargs="?",
        default=None,
        help="a run directory or a sweep folder (default: the newest finished run for --data)",
    )
    parser.add_argument(
        "--sweep", metavar="SWEEP", default=None, help="a sweep folder for the part (f) plots"
    )
    parser.add_argument(
        "--data",
        metavar="DIR|ZIP",
        default=None,
        help="the data set (default: the run's own; without RUN, the demo set)",
    )
    parser.add_argument(
        "--cache-dir", metavar="DIR", default=None, help="decoded-image cache folder"
    )
    parser.add_argument(
        "--out",
        metavar="FILE.ipynb",
        default=None,
        help="the notebook to write (default: exports/<run-id>/notebook.ipynb)",
    )
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="write the cells without running them (no kernel needed)",
    )
    parser.add_argument(
        "--html", action="store_true", help="also write the notebook as one HTML page"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parser


def _target(args: argparse.Namespace) -> tuple[Run, Path | None]:
    """The run and the sweep folder, chosen as ``workbench --export`` chooses them."""
    from workbench.cli.common import options_named
    from workbench.cli.export import data_path, finished_run_for
    from workbench.config import check_data_path
    from workbench.engine.export.notebook_parts import sweep_for_run
    from workbench.engine.runs import Run, open_run
    from workbench.engine.sweep import is_sweep_dir, read_sweep

    with options_named():  # an empty --data would resolve to the current folder
        check_data_path(args.data)
    sweep = Path(args.sweep).expanduser() if args.sweep else None
    if sweep is not None and not is_sweep_dir(sweep):
        raise UsageError(f"--sweep {sweep}: not a sweep folder (no sweep.json)")
    if args.run is None:
        run = finished_run_for(data_path(args.data))
        if run is None:
            shown = args.data or "the demo set"
            raise UsageError(
                f"no finished run for {shown} under runs/: train one first "
                f"(`workbench train{' --data ' + args.data if args.data else ''}`) or name RUN"
            )
    else:
        path = Path(args.run).expanduser()
        if is_sweep_dir(path):
            best = read_sweep(path).best
            if best is None or best.run is None:
                raise UsageError(f"{path}: no run of this sweep has finished an epoch yet")
            run, sweep = Run(best.path), sweep or path
        else:
            run = open_run(path)
    if not run.checkpoint_path("best").is_file():
        raise UsageError(f"{run.path}: the run has no checkpoints/best.pt yet")
    return run, sweep or sweep_for_run(run)


def _output(args: argparse.Namespace, run: Run) -> Path:
    from workbench.cli.export import EXPORTS_ROOT, check_writable
    from workbench.engine.export.notebook import NOTEBOOK_IPYNB

    path = Path(args.out) if args.out else EXPORTS_ROOT / run.id / NOTEBOOK_IPYNB
    if path.suffix != ".ipynb":
        raise UsageError(f"--out {path}: a notebook file name ends in .ipynb")
    if path.is_dir():
        raise UsageError(f"--out {path}: is a folder; name the notebook file")
    check_writable(path.parent)
    return path


def run(args: argparse.Namespace) -> int:
    # torch, matplotlib, nbformat and the engine cost 2-3 s to import: only this command pays.
    from workbench.cli.export import data_path
    from workbench.engine.export.notebook import NotebookFailed, notebook_summary, write_notebook
    from workbench.engine.export.registry import Sources

    started = time.monotonic()
    run_, sweep = _target(args)
    path = _output(args, run_)
    with progress_bar() as progress:
        sources = Sources.for_run(
            run_,
            data=data_path(args.data),
            cache_dir=args.cache_dir,
            sweep=sweep,
            progress=progress,
        )
        try:
            written = write_notebook(
                sources,
                path.parent,
                name=path.name,
                execute=not args.no_execute,
                html=args.html,
                progress=progress,
            )
        except NotebookFailed as failure:
            err_console.print(f"[bold red]error:[/] {failure}", highlight=False, soft_wrap=True)
            return 1
    seconds = time.monotonic() - started
    summary = notebook_summary(path)
    report = sources.evaluation().report
    document = {
        "run": str(run_.path),
        "sweep": str(sweep) if sweep else None,
        "notebook": str(path),
        "html": str(path.with_suffix(".html")) if args.html else None,
        "written": [str(p) for p in written],
        "executed": not args.no_execute,
        "seconds": round(seconds, 1),
        "test_accuracy": report.accuracy,
        **summary,
    }
    if args.json:
        emit_json(document)
        return 0
    state = "not executed (--no-execute)" if args.no_execute else "executed"
    out_console.print(
        f"[bold]{path}[/]: {summary['cells']} cells, {state}, {summary['bytes'] / 1e6:.1f} MB, "
        f"in {seconds:.0f} s (run {run_.id}, test accuracy {report.accuracy:.4f})",
        highlight=False,
    )
    for extra in written:
        if extra != path:
            out_console.print(f"  {extra}", highlight=False)
    return 0
