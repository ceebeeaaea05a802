"""Training augmentation (Q3 d): albumentations, a from-scratch batched version, a preview.

* :class:`BatchAugment` -- random resized crop, horizontal flip, affine rotate/shift/scale,
  colour jitter (brightness, contrast, saturation) and cutout, written as batched tensor ops
  (one ``affine_grid``/``grid_sample`` for all the geometry) that run on the training device,
  with different random parameters for every image, drawn from a ``torch.Generator``.
* :class:`AlbumentationsAugment` -- an ``A.Compose`` of the same kinds of transforms, seeded,
  recording which transforms were applied with which parameters.
* :func:`preview_augmentations` -- one image, N random augmentations, each described.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

Record = list[tuple[str, dict[str, float]]]
"""What was applied to one image: (transform name, parameters) in order."""


@dataclass(frozen=True)
class BatchAugment:
    """Batched random augmentation of float images in 0..1, shape (B, 3, H, W), any device.

    Random parameters are drawn on the CPU from the given generator (so a seed gives the same
    augmentation on CPU and GPU) and applied on the images' device.
    """

    crop_p: float = 0.8
    crop_scale: tuple[float, float] = (0.6, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    affine_p: float = 0.5
    rotate: float = 15.0
    """Degrees, either way."""
    shift: float = 0.08
    """Fraction of the image size, either way."""
    scale: tuple[float, float] = (0.9, 1.1)
    jitter_p: float = 0.8
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.3
    cutout_p: float = 0.5
    cutout_size: tuple[float, float] = (0.1, 0.3)
    """Side of the cut-out rectangle as a fraction of the image side."""

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator, *, record: bool = False
    ) -> tuple[torch.Tensor, list[Record] | None]:
        """Augmented copies of ``images`` and, if ``record``, what was applied to each."""
        batch, _, height, width = images.shape
        device = images.device
        # A fixed number of draws per batch keeps the stream a function of the seed alone.
        u = torch.rand(batch, 16, generator=generator, dtype=torch.float64)
        on = {
            "crop": u[:, 0] < self.crop_p,
            "hflip": u[:, 1] < self.flip_p,
            "affine": u[:, 2] < self.affine_p,
            "jitter": u[:, 3] < self.jitter_p,
            "cutout": u[:, 4] < self.cutout_p,
        }
        lo, hi = self.crop_scale
        area = lo + (hi - lo) * u[:, 5]
        log_ratio = (
            math.log(self.crop_ratio[0])
            + (math.log(self.crop_ratio[1]) - math.log(self.crop_ratio[0])) * u[:, 6]
        )
        ratio = torch.exp(log_ratio)
        crop_w = torch.sqrt(area * ratio).clamp(max=1.0)
        crop_h = torch.sqrt(area / ratio).clamp(max=1.0)
        crop_x = (1 - crop_w) * (2 * u[:, 7] - 1)
        crop_y = (1 - crop_h) * (2 * u[:, 8] - 1)
        angle = self.rotate * (2 * u[:, 9] - 1)
        shift_x = self.shift * (2 * u[:, 10] - 1)
        shift_y = self.shift * (2 * u[:, 11] - 1)
        zoom = self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 12]
        bright = 1 + self.brightness * (2 * u[:, 13] - 1)
        contrast = 1 + self.contrast * (2 * u[:, 14] - 1)
        saturation = 1 + self.saturation * (2 * u[:, 15] - 1)
        cut = torch.rand(batch, 4, generator=generator, dtype=torch.float64)
        cut_w = self.cutout_size[0] + (self.cutout_size[1] - self.cutout_size[0]) * cut[:, 0]
        cut_h = self.cutout_size[0] + (self.cutout_size[1] - self.cutout_size[0]) * cut[:, 1]
        cut_x, cut_y = cut[:, 2], cut[:, 3]

        # Identity parameters where a transform is off, so every op runs batched.
        crop_w = torch.where(on["crop"], crop_w, 1.0)
        crop_h = torch.where(on["crop"], crop_h, 1.0)
        crop_x = torch.where(on["crop"], crop_x, 0.0)
        crop_y = torch.where(on["crop"], crop_y, 0.0)
        angle = torch.where(on["affine"], angle, 0.0)
        shift_x = torch.where(on["affine"], shift_x, 0.0)
        shift_y = torch.where(on["affine"], shift_y, 0.0)
        zoom = torch.where(on["affine"], zoom, 1.0)
        bright = torch.where(on["jitter"], bright, 1.0)
        contrast = torch.where(on["jitter"], contrast, 1.0)
        saturation = torch.where(on["jitter"], saturation, 1.0)

        out = images
        geometric = on["crop"] | on["hflip"] | on["affine"]
        if bool(geometric.any()):
            theta = _sampling_matrix(
                crop_w,
                crop_h,
                crop_x,
                crop_y,
                on["hflip"],
                angle,
                shift_x,
                shift_y,
                zoom,
                width,
                height,
            )
            grid = _sampling_grid(_to_device(theta, device, images.dtype), height, width)
            out = F.grid_sample(
                images, grid, mode="bilinear", padding_mode="reflection", align_corners=False
            )
        if bool(on["jitter"].any()):
            out = _colour_jitter(out, bright, contrast, saturation)
        if bool(on["cutout"].any()):
            if out is images:  # never write into the caller's tensor
                out = images.clone()
            out = _cutout(out, on["cutout"], cut_x, cut_y, cut_w, cut_h)
        records = None
        if record:
            records = _records(
                on, crop_w, crop_h, crop_x, crop_y, angle, shift_x, shift_y, zoom,
                bright, contrast, saturation, cut_x, cut_y, cut_w, cut_h,
            )  # fmt: skip
        return out, records


def _sampling_matrix(
    crop_w: torch.Tensor,
    crop_h: torch.Tensor,
    crop_x: torch.Tensor,
    crop_y: torch.Tensor,
    flip: torch.Tensor,
    angle: torch.Tensor,
    shift_x: torch.Tensor,
    shift_y: torch.Tensor,
    zoom: torch.Tensor,
    width: int,
    height: int,
) -> torch.Tensor:
    """(B, 2, 3) matrices mapping output to input coordinates (normalised, -1..1).

    Input position = crop(flip(affine(output position))); the rotation is done in pixel space
    (scaled by the aspect ratio), so non-square images are rotated, not sheared.
    """
    batch = crop_w.shape[0]
    eye = torch.eye(3, dtype=torch.float64).repeat(batch, 1, 1)
    crop = eye.clone()
    crop[:, 0, 0], crop[:, 1, 1] = crop_w, crop_h
    crop[:, 0, 2], crop[:, 1, 2] = crop_x, crop_y
    mirror = eye.clone()
    mirror[:, 0, 0] = torch.where(flip, -1.0, 1.0)
    radians = angle * math.pi / 180
    cos, sin = torch.cos(radians) / zoom, torch.sin(radians) / zoom
    aspect = width / height
    affine = eye.clone()
    affine[:, 0, 0], affine[:, 0, 1] = cos, -sin / aspect
    affine[:, 1, 0], affine[:, 1, 1] = sin * aspect, cos
    affine[:, 0, 2], affine[:, 1, 2] = -2 * shift_x, -2 * shift_y
    return (crop @ mirror @ affine)[:, :2, :]


def _sampling_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``F.affine_grid(theta, (B, C, H, W), align_corners=False)``, by broadcasting.

    Each output coordinate is a sum of a per-column and a per-row term, so the grid costs two
    full-size additions; ``affine_grid``'s batched matrix product over every pixel cost about
    as much as the sampling itself on a CPU.
    """
    xs = (torch.arange(width, device=theta.device, dtype=theta.dtype) * 2 + 1) / width - 1
    ys = (torch.arange(height, device=theta.device, dtype=theta.dtype) * 2 + 1) / height - 1
    t = theta[:, :, :, None, None]  # (B, 2, 3, 1, 1)
    by_column = t[:, :, 0] * xs.view(1, 1, 1, width)  # (B, 2, 1, W)
    by_row = t[:, :, 1] * ys.view(1, 1, height, 1) + t[:, :, 2]  # (B, 2, H, 1)
    return (by_column + by_row).permute(0, 2, 3, 1)  # (B, H, W, 2)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma (B, 1, H, W), without a full (B, 3, H, W) temporary."""
    gray = x[:, 0:1] * 0.299
    gray.add_(x[:, 1:2], alpha=0.587)
    return gray.add_(x[:, 2:3], alpha=0.114)


def _colour_jitter(
    x: torch.Tensor, bright: torch.Tensor, contrast: torch.Tensor, saturation: torch.Tensor
) -> torch.Tensor:
    view = (-1, 1, 1, 1)
    b = _to_device(bright, x.device, x.dtype).view(view)
    c = _to_device(contrast, x.device, x.dtype).view(view)
    s = _to_device(saturation, x.device, x.dtype).view(view)
    # In-place after the first op: each full-batch temporary costs as much as the arithmetic.
    # Blends are written c*x + (1-c)*mean: one multiply and one add over the batch, the
    # (1-c)*mean term being per image (contrast) or per pixel (saturation) only.
    x = (x * b).clamp_(0, 1)
    mean = _gray(x).mean(dim=(2, 3), keepdim=True)
    x.mul_(c).add_(mean * (1 - c)).clamp_(0, 1)
    gray = _gray(x).mul_(1 - s)
    return x.mul_(s).add_(gray).clamp_(0, 1)


def _to_device(values: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Parameters drawn on the CPU, onto the images' device, without making the CPU wait.

    A copy from ordinary (pageable) memory to a GPU waits until the GPU has finished all the
    work queued before it, so a batch's augmentation could not be queued while the previous
    training step still runs; a copy from pinned memory is queued like a kernel.
    """
    values = values.to(dtype)
    if device.type != "cuda":
        return values.to(device)
    return values.pin_memory().to(device, non_blocking=True)


def _cutout(
    x: torch.Tensor,
    on: torch.Tensor,
    cx: torch.Tensor,
    cy: torch.Tensor,
    w: torch.Tensor,
    h: torch.Tensor,
) -> torch.Tensor:
    _, _, height, width = x.shape
    device = x.device
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    cx, cy, w, h = (_to_device(v, device, torch.float32).view(-1, 1, 1) for v in (cx, cy, w, h))
    inside = ((xs.view(1, 1, -1) - cx).abs() < w / 2) & ((ys.view(1, -1, 1) - cy).abs() < h / 2)
    inside &= _to_device(on, device, torch.bool).view(-1, 1, 1)
    return x.masked_fill_(inside.unsqueeze(1), 0.0)  # x is the augmentation's own tensor


def _records(on: dict[str, torch.Tensor], *values: torch.Tensor) -> list[Record]:
    (crop_w, crop_h, crop_x, crop_y, angle, sx, sy, zoom, br, co, sa, cx, cy, cw, ch) = (
        v.tolist() for v in values
    )
    flags = {name: flag.tolist() for name, flag in on.items()}
    out: list[Record] = []
    for i in range(len(crop_w)):
        rec: Record = []
        if flags["crop"][i]:
            area = crop_w[i] * crop_h[i]
            rec.append(("random_resized_crop", {"area": area, "x": crop_x[i], "y": crop_y[i]}))
        if flags["hflip"][i]:
            rec.append(("hflip", {}))
        if flags["affine"][i]:
            params = {"rotate": angle[i], "shift_x": sx[i], "shift_y": sy[i], "scale": zoom[i]}
            rec.append(("affine", params))
        if flags["jitter"][i]:
            params = {"brightness": br[i], "contrast": co[i], "saturation": sa[i]}
            rec.append(("colour_jitter", params))
        if flags["cutout"][i]:
            rec.append(("cutout", {"x": cx[i], "y": cy[i], "w": cw[i], "h": ch[i]}))
        out.append(rec)
    return out


def describe(record: Record) -> str:
    """One line saying what was applied with which parameters."""
    if not record:
        return "nothing applied"
    parts = []
    for name, params in record:
        if name == "random_resized_crop":
            parts.append(f"crop {params['area']:.0%} at ({params['x']:+.2f},{params['y']:+.2f})")
        elif name == "hflip":
            parts.append("flip")
        elif name == "affine":
            parts.append(
                f"rotate {params['rotate']:+.0f}° shift ({params['shift_x']:+.2f},"
                f"{params['shift_y']:+.2f}) scale {params['scale']:.2f}"
            )
        elif name == "colour_jitter":
            parts.append(
                f"bright {params['brightness']:.2f} contrast {params['contrast']:.2f} "
                f"sat {params['saturation']:.2f}"
            )
        elif name == "cutout":
            parts.append(f"cutout {params['w']:.0%}x{params['h']:.0%}")
        else:
            parts.append(name + " " + " ".join(f"{k}={_short(v)}" for k, v in params.items()))
    return "; ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return "(" + ",".join(f"{k}={_short(v)}" for k, v in value.items()) + ")"
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_short(v) for v in value) + ")"
    return str(value)


class AlbumentationsAugment:
    """A seeded albumentations Compose of five random transforms that records what it did.

    Call it on a uint8 HWC image; ``apply`` also returns the record. ``reseed(seed)`` makes the
    next call a pure function of ``seed`` (the loader reseeds per sample).
    """

    def __init__(self, size: int, *, seed: int = 42) -> None:
        import albumentations as A  # about 0.5 s (pulls in cv2); only this backend needs it
        import cv2

        self.compose = A.Compose(
            [
                A.RandomResizedCrop(size=(size, size), scale=(0.6, 1.0), p=0.8),
                A.HorizontalFlip(p=0.5),
                A.Affine(
                    rotate=(-15, 15),
                    translate_percent=(-0.08, 0.08),
                    scale=(0.9, 1.1),
                    keep_ratio=True,
                    border_mode=cv2.BORDER_REFLECT_101,
                    p=0.5,
                ),
                A.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.3, hue=0.03, p=0.8),
                A.CoarseDropout(
                    num_holes_range=(1, 2),
                    hole_height_range=(0.1, 0.3),
                    hole_width_range=(0.1, 0.3),
                    fill=0,
                    p=0.5,
                ),
            ],
            save_applied_params=True,
            seed=seed,
        )

        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Make the next call a pure function of ``seed``.

        albumentations 2.0's ``Compose.set_random_seed`` hands every transform the *same* seed,
        so their draws, including whether each one applies, would be identical: all five or
        none together. Each transform gets its own stream, spawned from ``seed``, instead.
        """
        self.compose.set_random_seed(seed % 2**32)
        transforms = self.compose.transforms
        streams = np.random.SeedSequence(seed % 2**32).spawn(len(transforms))
        for transform, stream in zip(transforms, streams, strict=True):
            transform.set_random_seed(int(stream.generate_state(1)[0]))

    def apply(self, image: np.ndarray) -> tuple[np.ndarray, Record]:
        result = self.compose(image=image)
        record: Record = []
        for name, params in result.get("applied_transforms", []):
            record.append((name, _album_params(name, params)))
        return result["image"], record

    def __call__(self, image: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.compose(image=image)["image"]
        return out


_ALBUM_KEEP = {
    "RandomResizedCrop": ("crop_coords",),
    "HorizontalFlip": (),
    "Affine": ("rotate", "scale", "translate_px"),
    "ColorJitter": ("brightness", "contrast", "saturation", "hue"),
    "CoarseDropout": ("holes",),
}


def _album_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    keep = _ALBUM_KEEP.get(name)
    chosen = {k: v for k, v in params.items() if keep is None or k in keep}
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in chosen.items()}


def preview_augmentations(
    image: np.ndarray, backend: str, n: int, seed: int
) -> list[tuple[np.ndarray, str]]:
    """``n`` random augmentations of one uint8 HWC image, each with what was applied.

    ``backend`` is builtin, albumentations or none. The same seed gives the same previews.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 HxWx3 image, got {image.dtype} {image.shape}")
    if backend == "none":
        return [(image.copy(), "no augmentation") for _ in range(n)]
    if backend == "builtin":
        x = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).float() / 255.0
        batch = x.unsqueeze(0).repeat(n, 1, 1, 1)
        generator = torch.Generator().manual_seed(seed)
        out, records = BatchAugment()(batch, generator, record=True)
        assert records is not None
        arrays = (out.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return [(arrays[i].copy(), describe(records[i])) for i in range(n)]
    if backend == "albumentations":
        size = min(image.shape[0], image.shape[1])
        augment = AlbumentationsAugment(size, seed=seed)
        previews = []
        for i in range(n):
            augment.reseed(seed * 1000 + i)
            out_image, record = augment.apply(image)
            previews.append((out_image, describe(record)))
        return previews
    raise ValueError(f"backend must be builtin, albumentations or none, got {backend!r}")
