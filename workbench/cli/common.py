"""Shared pieces of the command line: data options, consoles, JSON output, progress bars."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from workbench.config import DataConfig, option_name, with_values
from workbench.engine.jsonable import json_ready
from workbench.engine.progress import ProgressFn
from workbench.errors import ConfigError, UsageError

err_console = Console(stderr=True)
"""Progress bars, warnings and errors: stderr, so ``--json`` output on stdout stays clean."""
out_console = Console()


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows every option's default (unless its help already says it) and keeps line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        # A plain flag's False is implied by the flag; a --x/--no-x pair needs its default said.
        plain_flag = default is False and not isinstance(action, argparse.BooleanOptionalAction)
        hidden = default is None or plain_flag or default == argparse.SUPPRESS
        shows_default = "default" in text or hidden
        if shows_default or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


def add_data_options(parser: argparse.ArgumentParser, *more: str) -> None:
    """The options that choose and prepare the data set (and the fields ``more``), shared by
    the data commands; derived from the config's option table."""
    from workbench.cli.options import add_config_options

    add_config_options(parser, [*DATA_OPTIONS, *more])


DATA_OPTIONS = ("data", "seed", "image_size", "cache_dir")
"""The fields every data command offers (train and sweep offer the whole table)."""
DATA_SECTION = tuple(f.name for f in dataclasses.fields(DataConfig))


def data_config_from_args(args: argparse.Namespace) -> DataConfig:
    """Build and validate the DataConfig that the data options describe (UsageError naming the
    option on failure)."""
    from workbench.cli.options import given_values

    config = with_values(None, given_values(args, DATA_SECTION)).data
    with options_named():
        config.validate()
    return config


@contextmanager
def options_named() -> Iterator[None]:
    """A ConfigError raised inside becomes the UsageError the CLI prints: the field named as the
    option a user typed (``batch_size`` -> ``--batch-size``, from the config's option table)."""
    try:
        yield
    except ConfigError as error:
        raise UsageError(f"{option_name(error.field)}: {error.message}") from None


def _existing_ancestor(path: Path) -> Path | None:
    return next((p for p in (path, *path.parents) if p.exists()), None)


def check_folder_option(option: str, value: str | None) -> None:
    """UsageError unless ``value`` (if given) can be a folder: not empty, not an existing file,
    not under one. Checked before anything is created."""
    if value is None:
        return
    if not value.strip():
        raise UsageError(f"{option}: is empty; give a folder path")
    existing = _existing_ancestor(Path(value).expanduser())
    if existing is not None and not existing.is_dir():
        what = (
            "exists and is not a folder"
            if existing == Path(value).expanduser()
            else (f"{existing} is a file, not a folder")
        )
        raise UsageError(f"{option} {value}: {what}; give a folder path")


def check_file_option(option: str, value: str | None) -> None:
    """UsageError unless ``value`` (if given) can be written as a file: not empty, not an
    existing folder, not under an existing file. Checked before anything is created."""
    if value is None:
        return
    if not value.strip():
        raise UsageError(f"{option}: is empty; give a file path")
    path = Path(value).expanduser()
    if path.is_dir():
        raise UsageError(f"{option} {value}: is a folder; give a file path (e.g. split.csv)")
    existing = _existing_ancestor(path.parent)
    if existing is not None and not existing.is_dir():
        raise UsageError(f"{option} {value}: {existing} is a file, not a folder; give a file path")


def emit_json(document: Any) -> None:
    """Print exactly one JSON document on stdout (for scripts and notebooks): strict JSON,
    non-finite numbers by name as everywhere in the project (:func:`json_ready`)."""
    text = json.dumps(json_ready(document), indent=2, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(*, transient: bool = True) -> Iterator[ProgressFn]:
    """A rich progress display on stderr, driven through the engine's ProgressFn protocol."""
    display = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=transient,
    )
    tasks: dict[str, TaskID] = {}

    def update(task: str, done: int, total: int) -> None:
        if task not in tasks:
            tasks[task] = display.add_task(task, total=total)
        display.update(tasks[task], completed=done, total=total)

    with display:
        yield update
