"""Q3 a and d artefacts: ``split_grid.png`` (+ ``.csv``) and ``augment_grid_<backend>.png``
(+ ``.txt``).

Both draw the decoded images of a :class:`~workbench.engine.prepared.PreparedData` (the size the
model sees); the data files beside them list exactly what is shown.
"""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.engine.atomic import atomic_write_text
from workbench.engine.export import new_figure, save_figure
from workbench.engine.prepared import PreparedData
from workbench.engine.split import SPLITS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SPLIT_GRID_PNG = "split_grid.png"
SPLIT_GRID_CSV = "split_grid.csv"
AUGMENT_BACKENDS = ("builtin", "albumentations")
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}


def augment_grid_names(backend: str) -> tuple[str, str]:
    """(PNG, TXT) file names of one backend's augmentation grid."""
    return f"augment_grid_{backend}.png", f"augment_grid_{backend}.txt"


def split_grid_rows(data: PreparedData, per: int = 5) -> list[tuple[str, str, list[int]]]:
    """(split, class, the first ``per`` image indices) for every class and split, in order.

    "First" is the order of the split manifest (sorted paths), the same on every machine.
    """
    rows: list[tuple[str, str, list[int]]] = []
    labels = data.labels.tolist()
    for label, name in enumerate(data.classes):
        for split in SPLITS:
            chosen = [i for i in data.split.indices(split) if labels[i] == label][:per]
            rows.append((split, name, chosen))
    return rows


def _hwc(data: PreparedData, index: int) -> np.ndarray:
    return data.images[index].permute(1, 2, 0).numpy()


def split_grid_figure(data: PreparedData, per: int = 5) -> Figure:
    """The first ``per`` images of each split for every class, one row per (class, split)
    labelled on the left."""
    rows = split_grid_rows(data, per)
    figure = new_figure(1.5 * per + 1.2, 1.55 * len(rows))
    axes = figure.subplots(len(rows), per, squeeze=False)
    for r, (split, name, indices) in enumerate(rows):
        for c in range(per):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(indices):
                index = indices[c]
                path = data.scan.paths[index]
                ax.imshow(_hwc(data, index))
                ax.set_title(path.rsplit("/", 1)[-1][:22], fontsize=6)
        axes[r][0].set_ylabel(f"{name}\n{SPLIT_NAMES[split]}", fontsize=9, rotation=0, ha="right")
    figure.suptitle(
        f"First {per} images of each split per class ({data.scan.source}, "
        f"split {data.fingerprint}, seed {data.split.seed})",
        fontsize=10,
    )
    figure.tight_layout()
    return figure


def write_split_grid(data: PreparedData, out_dir: str | Path, per: int = 5) -> list[Path]:
    """``split_grid.png`` (:func:`split_grid_figure`); ``split_grid.csv``: the files shown."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("class", "split", "column", "path"))
    for split, name, indices in split_grid_rows(data, per):
        for column, index in enumerate(indices, start=1):
            writer.writerow((name, split, column, data.scan.paths[index]))
    out = Path(out_dir)
    return [
        save_figure(split_grid_figure(data, per), out / SPLIT_GRID_PNG, dpi=110),
        atomic_write_text(out / SPLIT_GRID_CSV, buffer.getvalue()),
    ]


def augment_source_index(data: PreparedData) -> int:
    """The image every augmentation grid starts from: the first training image."""
    return data.split.indices("train")[0]


def augment_tiles(
    data: PreparedData, backend: str, n: int = 8, seed: int = 0
) -> list[tuple[np.ndarray, str]]:
    """The first training image ("original") and ``n`` random augmentations of it by
    ``backend``, each with the transforms and parameters applied, as text."""
    from workbench.engine.augment import preview_augmentations

    if backend not in AUGMENT_BACKENDS:
        raise ValueError(f"backend must be one of {AUGMENT_BACKENDS}, got {backend!r}")
    image = np.ascontiguousarray(_hwc(data, augment_source_index(data)))
    return [(image, "original"), *preview_augmentations(image, backend, n, seed)]


def _tile_label(k: int, text: str) -> str:
    return "original" if k == 0 else f"#{k}: {text}".replace(" ;", ";")


def augment_grid_figure(data: PreparedData, backend: str, n: int = 8, seed: int = 0) -> Figure:
    """One training image and ``n`` random augmentations of it (:func:`augment_tiles`), each
    titled with the transforms and parameters applied."""
    return _augment_grid(data, backend, augment_tiles(data, backend, n, seed))


def _augment_grid(data: PreparedData, backend: str, tiles: list[tuple[np.ndarray, str]]) -> Figure:
    n = len(tiles) - 1
    columns = 3 if len(tiles) <= 9 else 4
    rows = (len(tiles) + columns - 1) // columns
    lines_per_title = max(
        len(textwrap.wrap(f"#{k}: {text}", 44)) for k, (_, text) in enumerate(tiles)
    )
    side, wspace = 2.9, 0.08
    title = 0.13 * lines_per_title + 0.15
    width = columns * side * (1 + wspace) + 0.2
    height = rows * (side + title) + 0.4
    figure = new_figure(width, height)
    axes = figure.subplots(
        rows,
        columns,
        squeeze=False,
        gridspec_kw={
            "left": 0.1 / width,
            "right": 1 - 0.1 / width,
            "top": 1 - (title + 0.35) / height,
            "bottom": 0.05 / height,
            "wspace": wspace,
            "hspace": title / side,
        },
    )
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= len(tiles):
            continue
        tile, text = tiles[k]
        ax.imshow(tile)
        ax.set_title(textwrap.fill(_tile_label(k, text), 44), fontsize=6.5)
    figure.suptitle(
        f"{backend} augmentation: {n} random draws of "
        f"{data.scan.paths[augment_source_index(data)]}",
        fontsize=10,
    )
    return figure


def write_augment_grid(
    data: PreparedData, out_dir: str | Path, backend: str, n: int = 8, seed: int = 0
) -> list[Path]:
    """``augment_grid_<backend>.png`` (:func:`augment_grid_figure`); the ``.txt`` lists the
    same transforms and parameters."""
    source = data.scan.paths[augment_source_index(data)]
    lines = [f"backend {backend}, seed {seed}, source {source}"]
    tiles = augment_tiles(data, backend, n, seed)
    lines += [_tile_label(k, text) for k, (_, text) in enumerate(tiles)]
    png, txt = augment_grid_names(backend)
    out = Path(out_dir)
    return [
        save_figure(_augment_grid(data, backend, tiles), out / png, dpi=110),
        atomic_write_text(out / txt, "\n".join(lines) + "\n"),
    ]
