"""The ``workbench`` command: argparse entry point.

No sub-command opens the TUI; ``--export`` writes every artefact headlessly; each sub-command
lives in ``workbench/cli/<name>.py``. Exit codes: 0 success, 2 bad usage or bad input (one line
saying what and where), 1 failure (one line when a file cannot be written: a full disk, a
quota, a read-only or someone else's folder; else the traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from workbench import __version__
from workbench.cli import COMMANDS
from workbench.cli.common import HelpFormatter, err_console
from workbench.errors import EXIT_STOPPED, UsageError, storage_message

DESCRIPTION = """\
A terminal workbench for deep-learning coursework.

Without a sub-command, opens the workbench TUI on the data set given by --data
(default: the built-in demo set). With --export, writes every artefact of the
assignment (image grids, plots, metric files) into a folder, without a terminal UI.
"""


def _command_modules() -> dict[str, ModuleType]:
    return {name: importlib.import_module(f"workbench.cli.{name}") for name in COMMANDS}


def build_parser(modules: dict[str, ModuleType] | None = None) -> argparse.ArgumentParser:
    modules = modules if modules is not None else _command_modules()
    parser = argparse.ArgumentParser(
        prog="workbench", description=DESCRIPTION, formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument(
        "--data",
        metavar="DIR|ZIP",
        default=None,
        help="image folder with one sub-folder per class, or a .zip of one "
        "(default: the built-in demo set)",
    )
    parser.add_argument(
        "--cache-dir", metavar="DIR", default=None, help="decoded-image cache folder"
    )
    parser.add_argument(
        "--export",
        action="store_true",
        help="write every artefact into --out instead of opening the TUI",
    )
    parser.add_argument("--run", metavar="RUN", default=None, help="run directory to export")
    parser.add_argument(
        "--out", metavar="DIR", default=None, help="export folder (default: exports/<run-id>/)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in modules.values():
        module.add_parser(sub)
    return parser


def _run_default(args: argparse.Namespace) -> int:
    """No sub-command: the TUI, or the headless export."""
    if args.export:
        from workbench.cli.export import run_export

        return run_export(args)
    # textual-image asks the terminal about graphics support when imported, which is only
    # possible before the app takes the terminal over; it costs about 0.1 s. Textual itself
    # (about 0.3 s) is imported here, not at the top, so that the sub-commands never pay for it.
    import textual_image.widget  # noqa: F401

    from workbench.app import WorkbenchApp

    app = WorkbenchApp(data=args.data, cache_dir=args.cache_dir)
    app.run()
    return int(app.return_code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    modules = _command_modules()
    parser = build_parser(modules)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # train relaunches itself with it
    try:
        if args.command is None:
            return _run_default(args)
        return int(modules[args.command].run(args))
    except UsageError as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        return 2
    except OSError as error:
        message = storage_message(error)
        if message is None:
            raise
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return EXIT_STOPPED


if __name__ == "__main__":
    sys.exit(main())
