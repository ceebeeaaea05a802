"""Reading back the files the exports write: PNG checks, CSV rows."""

from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image


def png_ok(path: Path, min_width: int = 300, min_height: int = 200) -> tuple[int, int]:
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert min_width <= image.width <= 6000 and min_height <= image.height <= 8000
        return image.size


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))
