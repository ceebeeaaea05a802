"""The built-in demo data set: cartoon cat, dog and panda faces, drawn procedurally.

Each image is a pure function of (seed, class, index): a random pose, scale, fur colour,
cluttered background, occluders, colour cast and noise, so a small CNN needs several epochs to
tell the classes apart (the demo shows real learning curves) but can learn them. The set is
generated once into the cache folder as JPEG files and then read like any image folder.
"""

from __future__ import annotations

import functools
import math
import os
import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from workbench.engine.cachedir import remove_stale
from workbench.engine.pool import map_chunks
from workbench.engine.progress import ProgressFn

CLASSES = ("cats", "dogs", "panda")
"""The demo's class folders (named like the course's animals set)."""
SIDE = 160
"""Pixel side of the stored images."""
DEMO_FORMAT = 2
"""Bump when the drawing changes, so an old demo set is regenerated."""

Colour = tuple[int, int, int]
FUR = [
    (214, 128, 52), (150, 150, 150), (40, 36, 34), (235, 232, 225), (120, 80, 50),
    (230, 200, 150), (90, 90, 100), (190, 160, 110), (170, 100, 60), (60, 50, 45),
]  # fmt: skip


def demo_folder(cache_dir: Path, seed: int, per_class: int) -> Path:
    return cache_dir / "demo" / f"demo-seed{seed}-n{per_class}-v{DEMO_FORMAT}"


def generate_demo(
    cache_dir: str | Path,
    *,
    seed: int = 42,
    per_class: int = 300,
    progress: ProgressFn | None = None,
) -> Path:
    """The demo set's folder under ``cache_dir``, generated first if it is not there yet.

    Generation writes into a temporary folder and renames it into place, so a concurrent or
    interrupted generation never leaves a half-written set.
    """
    folder = demo_folder(Path(cache_dir), seed, per_class)
    if (folder / ".complete").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(folder.parent, ".demo-*")  # left by killed generations
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name in CLASSES:
            (temporary / name).mkdir()
        jobs = [(name, i) for i in range(per_class) for name in CLASSES]
        map_chunks(
            functools.partial(_draw_chunk, str(temporary), seed),
            jobs,
            chunk_size=60,
            task="drawing the demo set",
            progress=progress,
        )
        (temporary / ".complete").write_text("ok\n")
        if folder.exists() and not (folder / ".complete").exists():
            shutil.rmtree(folder, ignore_errors=True)  # not ours: only whole sets are renamed
        try:
            os.replace(temporary, folder)
        except OSError:
            if not (folder / ".complete").exists():
                raise
            # Another process finished the same set first; theirs is identical.
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    return folder


def _draw_chunk(root: str, seed: int, jobs: Sequence[tuple[str, int]]) -> int:
    for name, index in jobs:
        image = draw_face(name, random.Random(f"{seed}/{name}/{index}"))
        image.save(Path(root) / name / f"{name}_{index:05d}.jpg", quality=90)
    return len(jobs)


def _jitter(colour: Colour, rng: random.Random, amount: int) -> Colour:
    r, g, b = (max(0, min(255, c + rng.randint(-amount, amount))) for c in colour)
    return (r, g, b)


def _random_colour(rng: random.Random) -> Colour:
    return (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))


def _background(rng: random.Random) -> Image.Image:
    top, bottom = _random_colour(rng), _random_colour(rng)
    ramp = np.linspace(0.0, 1.0, SIDE)[:, None, None]
    pixels = np.array(top)[None, None, :] * (1 - ramp) + np.array(bottom)[None, None, :] * ramp
    image = Image.fromarray(np.repeat(pixels, SIDE, axis=1).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 12)):  # clutter, including ear-like triangles and blobs
        x, y = rng.uniform(-20, SIDE), rng.uniform(-20, SIDE)
        w, h = rng.uniform(8, 60), rng.uniform(8, 60)
        colour = _random_colour(rng) if rng.random() < 0.8 else (25, 25, 25)
        kind = rng.random()
        if kind < 0.4:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        elif kind < 0.7:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
        else:
            draw.polygon([(x, y + h), (x + w / 2, y), (x + w, y + h)], fill=colour)
    return image


def _rot(x: float, y: float, angle: float) -> tuple[float, float]:
    c, s = math.cos(angle), math.sin(angle)
    return x * c - y * s, x * s + y * c


def draw_face(kind: str, rng: random.Random) -> Image.Image:
    """One demo image of class ``kind`` (cats, dogs or panda), RGB, SIDE x SIDE."""
    image = _background(rng)
    layer = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    c = SIDE / 2
    r = rng.uniform(0.16, 0.36) * SIDE
    rx, ry = r * rng.uniform(0.85, 1.15), r * rng.uniform(0.85, 1.1)
    if kind == "panda":
        fur = _jitter((236, 234, 228), rng, 45)
        dark = _jitter((40, 38, 38), rng, 35)
    else:
        fur = _jitter(rng.choice(FUR), rng, 30)
        dark = _jitter(tuple(int(v * rng.uniform(0.3, 0.7)) for v in fur), rng, 15)  # type: ignore[arg-type]
    eye_y = c - ry * rng.uniform(0.05, 0.25)
    eye_dx = rx * rng.uniform(0.32, 0.45)
    # Ears behind the head.
    if kind == "cats":
        for side in (-1, 1):
            base_in, base_out = c + side * rx * 0.15, c + side * rx * 0.95
            tip = (c + side * rx * rng.uniform(0.55, 0.9), c - ry * rng.uniform(1.35, 1.7))
            draw.polygon([(base_in, c - ry * 0.5), tip, (base_out, c - ry * 0.2)], fill=fur)
            inner = (tip[0] - side * rx * 0.05, tip[1] + ry * 0.3)
            draw.polygon(
                [(c + side * rx * 0.3, c - ry * 0.55), inner, (c + side * rx * 0.8, c - ry * 0.35)],
                fill=_jitter((230, 150, 160), rng, 20),
            )
    elif kind == "panda":
        for side in (-1, 1):
            ex, ey = c + side * rx * 0.72, c - ry * 0.78
            er = r * rng.uniform(0.28, 0.4)
            draw.ellipse((ex - er, ey - er, ex + er, ey + er), fill=dark)
    draw.ellipse((c - rx, c - ry, c + rx, c + ry), fill=fur)
    if kind == "cats" and rng.random() < 0.5:  # tabby stripes on the forehead
        for k in (-1, 0, 1):
            x = c + k * rx * 0.2
            draw.line((x, c - ry * 0.95, x, c - ry * 0.55), fill=dark, width=max(2, int(r * 0.07)))
    if kind == "dogs":
        ear = dark if rng.random() < 0.7 else fur
        for side in (-1, 1):
            x0 = c + side * rx * rng.uniform(0.75, 1.0)
            w, h = rx * rng.uniform(0.35, 0.55), ry * rng.uniform(0.9, 1.4)
            top = c - ry * rng.uniform(0.75, 0.95)
            draw.ellipse((x0 - w / 2, top, x0 + w / 2, top + h), fill=ear)
        mw, mh = rx * rng.uniform(0.45, 0.6), ry * rng.uniform(0.35, 0.5)
        my = c + ry * 0.4
        draw.ellipse((c - mw, my - mh, c + mw, my + mh), fill=_jitter((235, 220, 200), rng, 30))
    # Eyes.
    for side in (-1, 1):
        ex = c + side * eye_dx
        if kind == "panda":
            pw, ph = r * rng.uniform(0.22, 0.3), r * rng.uniform(0.28, 0.38)
            tilt = side * rng.uniform(0.2, 0.6)
            patch = [
                (ex + _rot(pw * math.cos(t), ph * math.sin(t), tilt)[0],
                 eye_y + 0.05 * r + _rot(pw * math.cos(t), ph * math.sin(t), tilt)[1])
                for t in np.linspace(0, 2 * math.pi, 16, endpoint=False)
            ]  # fmt: skip
            draw.polygon(patch, fill=dark)
            er = r * 0.07
            draw.ellipse((ex - er, eye_y - er, ex + er, eye_y + er), fill=(245, 245, 245))
        else:
            er = r * rng.uniform(0.09, 0.14)
            iris = _jitter((90, 170, 60), rng, 40) if kind == "cats" else (35, 25, 20)
            draw.ellipse((ex - er, eye_y - er, ex + er, eye_y + er), fill=iris)
            if kind == "cats":
                draw.ellipse(
                    (ex - er * 0.25, eye_y - er, ex + er * 0.25, eye_y + er), fill=(10, 10, 10)
                )
    # Nose and mouth.
    ny = c + ry * (0.2 if kind == "cats" else 0.3)
    if kind == "cats":
        nr = r * 0.08
        draw.polygon(
            [(c - nr, ny - nr), (c + nr, ny - nr), (c, ny + nr * 0.6)], fill=(220, 120, 140)
        )
        for side in (-1, 1):
            for k in (-1, 0, 1):
                draw.line(
                    (
                        c + side * r * 0.15,
                        ny + k * 3,
                        c + side * r * rng.uniform(0.85, 1.2),
                        ny + k * 7,
                    ),
                    fill=(240, 240, 240) if sum(fur) < 300 else (30, 30, 30),
                    width=1,
                )
    else:
        nw, nh = r * (0.16 if kind == "dogs" else 0.1), r * (0.11 if kind == "dogs" else 0.07)
        draw.ellipse((c - nw, ny - nh, c + nw, ny + nh), fill=(20, 18, 18))
        draw.line((c, ny + nh, c, ny + nh + r * 0.12), fill=(20, 18, 18), width=2)
        if kind == "dogs" and rng.random() < 0.4:
            tw = r * 0.12
            ty = ny + nh + r * 0.14
            draw.ellipse((c - tw, ty, c + tw, ty + r * 0.25), fill=(225, 90, 110))
    # Pose: rotate, scale and place the face anywhere (partly off the frame at times).
    layer = layer.rotate(rng.uniform(-40, 40), resample=Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        layer = layer.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    shift = (int(rng.uniform(-0.22, 0.22) * SIDE), int(rng.uniform(-0.22, 0.22) * SIDE))
    image.paste(layer, shift, layer)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.choice((0, 1, 1, 2, 3, 4))):  # occluders over the face
        x, y = c + rng.uniform(-r, r), c + rng.uniform(-r, r)
        w, h = rng.uniform(0.2, 0.9) * r, rng.uniform(0.2, 0.9) * r
        colour = _random_colour(rng) if rng.random() < 0.7 else (20, 20, 20)
        if rng.random() < 0.5:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
        else:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.8)))
    pixels = np.asarray(image, dtype=np.float32)
    cast = np.array([rng.uniform(0.75, 1.25) for _ in range(3)], dtype=np.float32)
    if rng.random() < 0.15:
        pixels = pixels.mean(axis=2, keepdims=True).repeat(3, axis=2)
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(4, 30), pixels.shape)
    pixels = np.clip(pixels * cast + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")
