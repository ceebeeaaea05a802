"""The config's option table (:func:`workbench.config.offered_fields`) as argparse options.

Every option that sets a RunConfig field is derived here: its spelling, type, choices, help and
shown default. Each has ``None`` as its argparse default, so that :func:`given_values` can tell
what a user typed from what they left out (``train --config FILE`` overrides only the former);
the help says the field's real default.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from workbench.config import OfferedField, offered_fields

GROUPS = {"data": "data", "train": "training", "model": "model"}
"""The help's group title of each RunConfig section, in the help's order."""

RESUMED_NOTE = "with --resume: the run's own"


def add_config_options(
    parser: argparse.ArgumentParser,
    names: Iterable[str] | None = None,
    *,
    resumable: bool = False,
) -> None:
    """An option for each field of the table (only ``names`` when given), grouped by section.

    ``resumable``: the help of the fields a resumed run takes from the command line says that
    it otherwise keeps its own."""
    wanted = set(names) if names is not None else None
    groups: dict[str, Any] = {}
    order = list(GROUPS)
    for offered in sorted(offered_fields(), key=lambda f: order.index(f.section)):
        if wanted is not None and offered.name not in wanted:
            continue
        if offered.section not in groups:
            groups[offered.section] = parser.add_argument_group(GROUPS[offered.section])
        _add_option(groups[offered.section], offered, resumable=resumable)


def _add_option(group: Any, offered: OfferedField, *, resumable: bool) -> None:
    option = offered.option
    help_text = option.help.replace("%", "%%")
    if offered.annotation == "bool":
        if option.pair:
            shown = f"{help_text} (default: {offered.default})"
            action: Any = argparse.BooleanOptionalAction
        else:  # one flag that turns the default round: --deterministic, --no-amp
            shown, action = help_text, "store_false" if offered.default else "store_true"
        group.add_argument(offered.flag, dest=offered.name, action=action, default=None, help=shown)
        return
    default = offered.text(offered.default) if offered.default is not None else ""
    default = option.shown_default.format(default) if option.shown_default else default
    if resumable and option.resumed:
        default += f"; {RESUMED_NOTE}"
    group.add_argument(
        offered.flag,
        dest=offered.name,
        type=_argument_type(offered),
        choices=option.choices,
        metavar=option.metavar,
        default=None,
        help=f"{help_text} (default: {default.replace('%', '%%')})",
    )


def _argument_type(offered: OfferedField) -> Any:
    """argparse's own int and float (and their messages), else the table's parser."""
    if offered.annotation in ("int", "float"):
        return offered.kind.parse
    if offered.annotation in ("str", "str | None"):
        return str

    def parse(text: str) -> Any:
        try:
            return offered.kind.parse(text)
        except ValueError:
            what = offered.kind.what
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None

    parse.__name__ = offered.annotation
    return parse


def given_values(args: argparse.Namespace, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The table's fields that the command line set (only ``names`` when given), by field name.
    An option left out is None (its argparse default); a typed value never is."""
    wanted = set(names) if names is not None else None
    return {
        offered.name: value
        for offered in offered_fields()
        if (wanted is None or offered.name in wanted)
        and (value := getattr(args, offered.name, None)) is not None
    }


def resumed_options() -> list[str]:
    """The options a resumed run still takes from the command line, as the help names them."""
    return [f.flag for f in offered_fields() if f.option.resumed]
