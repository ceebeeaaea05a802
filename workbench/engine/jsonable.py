"""Frozen result dataclasses that serialise to strict JSON (for ``--json`` and the exports).

JSON has no NaN or infinity, and an undefined derivative is a result worth showing, so
non-finite numbers become the strings ``"nan"``, ``"inf"`` and ``"-inf"``.
"""

from __future__ import annotations

import math
from typing import Any


def json_number(value: float) -> float | str:
    """``value``, or its name when it is not finite."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def json_ready(value: Any) -> Any:
    """``value`` with tuples as lists, results as dicts and non-finite floats as strings."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, tuple | list):
        return [json_ready(item) for item in value]
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


class JsonRecord:
    """Mixin for dataclasses: ``to_dict()`` gives a JSON-ready dict of every field."""

    def to_dict(self) -> dict[str, Any]:
        fields = self.__dataclass_fields__  # type: ignore[attr-defined]
        return {name: json_ready(getattr(self, name)) for name in fields}
