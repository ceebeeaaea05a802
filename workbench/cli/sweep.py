"""``workbench sweep --grid lr=1e-3,3e-4 loss=ce,focal ...``: every combination, in turn.

Each combination is an ordinary run directory under one sweep folder (default
``runs/sweep-<hash of grid and options>``, so the same command finds the same folder). Ctrl-C
stops the current run cleanly (exit code 130); running the same command again skips finished
runs, resumes the stopped one and starts the rest. The sweep figures (``sweep_<name>.png``,
``sweep_summary.txt`` and, when the grid varies the loss, ``loss_comparison.png``) are written
into --out at the end.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.common import (
    HelpFormatter,
    check_folder_option,
    emit_json,
    err_console,
    out_console,
)
from workbench.cli.train import add_run_options, config_from_args
from workbench.config import offered_fields
from workbench.errors import EXIT_STOPPED, UsageError

if TYPE_CHECKING:
    from workbench.engine.sweep import SweepEntry

HELP = "hyper-parameter sweep: every combination of a grid as runs, comparison plots"
DESCRIPTION = """\
Train one run per combination of the grid, one after the other (or K at once with
--parallel K), under one sweep folder.
Grid items are NAME=V1,V2,... with NAME one of the `workbench train` options:
{names}.
Options below set everything the grid does not vary.

A stopped sweep continues where it stopped when the same command is run again
(or `workbench sweep --sweep-dir DIR` without --grid).
"""


def description() -> str:
    """The help's description, naming every hyper-parameter a grid may vary (from the config's
    option table, which needs no torch: the help stays fast)."""
    names = [
        f"{f.spelled} (on,off)" if f.annotation == "bool" else f.spelled
        for f in offered_fields()
        if f.option.sweep
    ]
    wrapped = textwrap.fill(", ".join(names), width=88, break_on_hyphens=False)
    return DESCRIPTION.format(names=wrapped)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "sweep", help=HELP, description=description(), formatter_class=HelpFormatter
    )
    parser.add_argument(
        "--grid",
        nargs="+",
        metavar="NAME=V1,V2",
        default=None,
        help="hyper-parameters and their values, e.g. lr=1e-3,3e-4 loss=ce,focal",
    )
    add_run_options(parser)  # every run's options, as `workbench train` has them
    where = parser.add_argument_group("folders")
    where.add_argument(
        "--sweep-dir",
        metavar="DIR",
        default=None,
        help="the sweep folder (default: <runs-root>/sweep-<hash of grid and options>)",
    )
    where.add_argument("--runs-root", metavar="DIR", default="runs", help="parent of sweeps")
    where.add_argument(
        "--out", metavar="DIR", default=None, help="figures (default: exports/<sweep folder>/)"
    )
    at_once = parser.add_argument_group("runs at once")
    at_once.add_argument(
        "--parallel",
        metavar="K",
        type=_at_least_one,
        default=1,
        help="train up to K runs at once, each its own `workbench train` process (output in "
        "<sweep folder>/.logs/); on the CPU each gets 1/K of the cores (default: 1, in turn)",
    )
    at_once.add_argument(
        "--devices",
        metavar="0,1,...",
        type=_device_list,
        default=(),
        help="with --parallel: the GPUs to share out, one per run at a time "
        "(CUDA_VISIBLE_DEVICES; default: none, the CPU)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    return parser


def _at_least_one(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of runs, 1 or more, got {text!r}"
        )
    return int(text)


def _device_list(text: str) -> tuple[str, ...]:
    devices = tuple(part.strip() for part in text.split(",") if part.strip())
    if not devices or not all(device.isdigit() for device in devices):
        raise argparse.ArgumentTypeError(f"expected GPU numbers like 0,1,2, got {text!r}")
    return devices


def run(args: argparse.Namespace) -> int:
    from workbench.cli.tuning import prepare_training_process

    check_folder_option("--sweep-dir", args.sweep_dir)
    if args.sweep_dir is None:  # the only case that creates a folder there
        check_folder_option("--runs-root", args.runs_root)
    prepare_training_process()  # before torch is imported: the same settings as `train`
    # torch and the engine cost 1-2 s to import; only this command pays for them.
    from workbench.cli.export import EXPORTS_ROOT, check_writable
    from workbench.cli.train import TrainDisplay
    from workbench.engine.loop import StopFlag, handle_signals
    from workbench.engine.sweep import (
        default_sweep_dir,
        is_sweep_dir,
        load_plan,
        parse_grid,
        plan_sweep,
        read_sweep,
        run_sweep,
    )

    if args.grid is None:
        if args.sweep_dir is None or not is_sweep_dir(args.sweep_dir):
            raise UsageError("--grid is needed (or --sweep-dir of an existing sweep to continue)")
        plan = load_plan(args.sweep_dir)
    else:
        grid = parse_grid(args.grid)
        base = config_from_args(args)
        root = default_sweep_dir(args.runs_root, grid, base)
        plan = plan_sweep(grid, base, Path(args.sweep_dir) if args.sweep_dir else root)
    out = Path(args.out) if args.out else EXPORTS_ROOT / plan.root.name
    check_writable(out)
    total = len(plan.entries)

    def announce(entry: SweepEntry, action: str) -> None:
        shown = " ".join(f"{k}={v}" for k, v in entry.params.items())
        verb = {
            "skip-finished": "[dim]skip (finished)[/]",
            "skip-failed": "[dim]skip (failed before)[/]",
            "skip-unreadable": "[red]skip (a damaged run file)[/]",
            "skip-running": "[yellow]skip (another process is training it)[/]",
            "resume": "[yellow]resume[/]",
            "start": "[green]start[/]",
        }[action]
        err_console.print(f"sweep run {entry.index}/{total} {shown}: {verb}", highlight=False)

    err_console.print(f"sweep folder [bold]{plan.root}[/], {total} runs", highlight=False)
    stop = StopFlag()
    if args.parallel > 1:
        from workbench.engine.sweep_parallel import LOGS_DIR, run_sweep_parallel

        err_console.print(f"{args.parallel} at once; output in {plan.root / LOGS_DIR}")
        with handle_signals(stop):
            result = run_sweep_parallel(
                plan,
                parallel=args.parallel,
                command=_train_command,
                devices=args.devices,
                stop=stop,
                on_entry=announce,
            )
    else:
        with handle_signals(stop), TrainDisplay() as display:
            result = run_sweep(plan, subscribers=[display], stop=stop, on_entry=announce)
    for outcome in result.outcomes:
        if outcome.state == "unreadable":
            err_console.print(f"[red]skipped:[/] {outcome.message}", highlight=False)
    written = _export(plan.root, out)
    summary = read_sweep(plan.root)
    if args.json:
        emit_json(
            {
                "sweep_dir": str(plan.root),
                "grid": plan.grid.to_text(),
                "stopped": result.stopped,
                "outcomes": [
                    {"name": o.entry.name, "action": o.action, "state": o.state}
                    for o in result.outcomes
                ],
                "runs": [
                    {
                        "name": row.name,
                        "params": row.params,
                        "state": row.state,
                        "epochs_done": row.epochs_done,
                        "best_epoch": row.best_epoch,
                        "best_val_accuracy": row.best_val_accuracy,
                    }
                    for row in summary.rows
                ],
                "best": summary.best.name if summary.best else None,
                "files": [str(p) for p in written],
            }
        )
    else:
        from workbench.engine.export.sweep import summary_text

        out_console.print(summary_text(summary), highlight=False, markup=False)
        for path in written:
            out_console.print(f"  {path}", highlight=False)
    if result.stopped:
        again = shlex.join(["workbench", *sys.argv[1:]])
        err_console.print(
            f"[yellow]sweep stopped[/]; run the same command to continue: {again}",
            highlight=False,
        )
        return EXIT_STOPPED
    return 0


def _train_command(entry: SweepEntry, resume: bool) -> list[str]:
    """The ``workbench train`` command line that trains (or resumes) one entry of a sweep."""
    from workbench.engine.runs import CONFIG

    argv = [sys.executable, "-m", "workbench", "train", "--run-dir", str(entry.path)]
    return [*argv, "--resume"] if resume else [*argv, "--config", str(entry.path / CONFIG)]


def _export(root: Path, out: Path) -> list[Path]:
    """The sweep's figures (and the loss comparison when it applies) into ``out``."""
    from workbench.engine.export.registry import Sources, export_all
    from workbench.engine.runs import Run
    from workbench.engine.sweep import read_sweep

    summary = read_sweep(root)
    if not any(row.val for row in summary.rows):
        return []
    best = summary.best
    run = Run(best.path) if best is not None and best.run is not None else None
    sources = Sources(
        data_config=run.config().data if run is not None else None, run=run, sweep=root
    )
    return export_all(sources, out, names=["sweep", "loss_comparison"]).written
