"""Q3 a and d artefacts: ``split_grid.png`` (+ ``.csv``) and ``augment_grid_<backend>.png``
(+ ``.txt``).

Both draw the decoded images of a :class:`~workbench.engine.data.PreparedData` (the size the
model sees); the data files beside them list exactly what is shown.
"""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path

import numpy as np

from workbench.engine.atomic import atomic_write_text
from workbench.engine.data import SPLITS, PreparedData
from workbench.engine.export import new_figure, save_figure

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


def write_split_grid(data: PreparedData, out_dir: str | Path, per: int = 5) -> list[Path]:
    """``split_grid.png``: the first ``per`` images of each split for every class, one row per
    (class, split) labelled on the left; ``split_grid.csv``: the files shown."""
    rows = split_grid_rows(data, per)
    figure = new_figure(1.5 * per + 1.2, 1.55 * len(rows))
    axes = figure.subplots(len(rows), per, squeeze=False)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("class", "split", "column", "path"))
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
                writer.writerow((name, split, c + 1, path))
        axes[r][0].set_ylabel(f"{name}\n{SPLIT_NAMES[split]}", fontsize=9, rotation=0, ha="right")
    figure.suptitle(
        f"First {per} images of each split per class ({data.scan.source}, "
        f"split {data.fingerprint}, seed {data.split.seed})",
        fontsize=10,
    )
    figure.tight_layout()
    out = Path(out_dir)
    return [
        save_figure(figure, out / SPLIT_GRID_PNG, dpi=110),
        atomic_write_text(out / SPLIT_GRID_CSV, buffer.getvalue()),
    ]


def augment_source_index(data: PreparedData) -> int:
    """The image every augmentation grid starts from: the first training image."""
    return data.split.indices("train")[0]


def write_augment_grid(
    data: PreparedData, out_dir: str | Path, backend: str, n: int = 8, seed: int = 0
) -> list[Path]:
    """``augment_grid_<backend>.png``: one training image and ``n`` random augmentations of it,
    each titled with the transforms and parameters applied; the ``.txt`` lists the same."""
    from workbench.engine.augment import preview_augmentations

    if backend not in AUGMENT_BACKENDS:
        raise ValueError(f"backend must be one of {AUGMENT_BACKENDS}, got {backend!r}")
    index = augment_source_index(data)
    image = np.ascontiguousarray(_hwc(data, index))
    previews = preview_augmentations(image, backend, n, seed)
    tiles = [(image, "original"), *previews]
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
    lines = [f"backend {backend}, seed {seed}, source {data.scan.paths[index]}"]
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= len(tiles):
            continue
        tile, text = tiles[k]
        ax.imshow(tile)
        label = "original" if k == 0 else f"#{k}: {text}".replace(" ;", ";")
        ax.set_title(textwrap.fill(label, 44), fontsize=6.5)
        lines.append(label)
    figure.suptitle(
        f"{backend} augmentation: {n} random draws of {data.scan.paths[index]}", fontsize=10
    )
    png, txt = augment_grid_names(backend)
    out = Path(out_dir)
    return [
        save_figure(figure, out / png, dpi=110),
        atomic_write_text(out / txt, "\n".join(lines) + "\n"),
    ]
