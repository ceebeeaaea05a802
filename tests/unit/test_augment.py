"""Augmentation: determinism under a seed, per-image randomness, records, previews."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.engine.augment import (
    AlbumentationsAugment,
    BatchAugment,
    describe,
    preview_augmentations,
)


def _image(height: int = 48, width: int = 48) -> np.ndarray:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image[: height // 2, : width // 3] = (250, 20, 20)  # some structure to move around
    return image


def _batch(n: int) -> torch.Tensor:
    x = torch.from_numpy(_image()).permute(2, 0, 1).float() / 255
    return x.unsqueeze(0).repeat(n, 1, 1, 1)


def test_builtin_is_deterministic_under_a_seed() -> None:
    augment = BatchAugment()
    a, rec_a = augment(_batch(8), torch.Generator().manual_seed(1), record=True)
    b, rec_b = augment(_batch(8), torch.Generator().manual_seed(1), record=True)
    c, _ = augment(_batch(8), torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and rec_a == rec_b
    assert not torch.equal(a, c)
    assert a.shape == (8, 3, 48, 48) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and float(a.max()) <= 1


def test_builtin_draws_different_parameters_for_every_image() -> None:
    out, records = BatchAugment()(_batch(16), torch.Generator().manual_seed(0), record=True)
    assert records is not None and len(records) == 16
    flat = out.flatten(1)
    distinct = {tuple(flat[i, ::97].tolist()) for i in range(16)}
    assert len(distinct) >= 15
    assert len({describe(r) for r in records}) >= 15
    names = {name for record in records for name, _ in record}
    assert names == {"random_resized_crop", "hflip", "affine", "colour_jitter", "cutout"}


def test_builtin_with_everything_off_is_the_identity() -> None:
    off = BatchAugment(crop_p=0, flip_p=0, affine_p=0, jitter_p=0, cutout_p=0)
    x = _batch(4)
    out, records = off(x, torch.Generator().manual_seed(0), record=True)
    assert torch.equal(out, x) and records == [[], [], [], []]


def test_builtin_flip_alone_mirrors_exactly() -> None:
    flip = BatchAugment(crop_p=0, flip_p=1, affine_p=0, jitter_p=0, cutout_p=0)
    x = _batch(2)
    out, _ = flip(x, torch.Generator().manual_seed(0))
    assert torch.allclose(out, x.flip(-1), atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_builtin_gives_the_same_result_on_the_gpu() -> None:
    """Every transform fires in this batch, so each parameter's copy to the GPU (pinned,
    asynchronous) is exercised."""
    x = _batch(16)
    cpu, records = BatchAugment()(x, torch.Generator().manual_seed(3), record=True)
    assert records is not None
    applied = {name for record in records for name, _ in record}
    assert applied == {"random_resized_crop", "hflip", "affine", "colour_jitter", "cutout"}
    gpu, _ = BatchAugment()(x.cuda(), torch.Generator().manual_seed(3))
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-4)


def test_albumentations_records_what_it_applied() -> None:
    augment = AlbumentationsAugment(48, seed=0)
    names: set[str] = set()
    for seed in range(12):
        augment.reseed(seed)
        out, record = augment.apply(_image())
        assert out.shape == (48, 48, 3) and out.dtype == np.uint8
        names |= {name for name, _ in record}
    assert {"RandomResizedCrop", "HorizontalFlip", "Affine", "ColorJitter"} <= names
    augment.reseed(5)
    first = augment.apply(_image())
    augment.reseed(5)
    second = augment.apply(_image())
    assert np.array_equal(first[0], second[0]) and first[1] == second[1]


@pytest.mark.parametrize("backend", ["builtin", "albumentations", "none"])
def test_preview(backend: str) -> None:
    image = _image(40, 56)
    previews = preview_augmentations(image, backend, 6, seed=42)
    assert len(previews) == 6
    for out, text in previews:
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        assert isinstance(text, str) and text
    again = preview_augmentations(image, backend, 6, seed=42)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(previews, again, strict=True))
    if backend != "none":
        assert len({text for _, text in previews}) > 1


def test_preview_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        preview_augmentations(np.zeros((4, 4), np.uint8), "builtin", 2, 0)
    with pytest.raises(ValueError):
        preview_augmentations(_image(), "magic", 2, 0)


def test_albumentations_transforms_draw_independently() -> None:
    """Each transform decides on its own whether it applies (p = .8, .5, .5, .8, .5).

    With one shared stream, all of them apply or none does; independent draws give many
    patterns, and "nothing at all" only about 0.5% of the time.
    """
    augment = AlbumentationsAugment(32, seed=0)
    image = _image(32, 32)
    patterns = []
    for seed in range(200):
        augment.reseed(seed)
        _, record = augment.apply(image)
        patterns.append(frozenset(name for name, _ in record))
    assert len(set(patterns)) >= 12
    assert patterns.count(frozenset()) <= 6
    flips = sum("HorizontalFlip" in p for p in patterns)
    assert 70 <= flips <= 130


def test_sampling_grid_equals_affine_grid() -> None:
    """The broadcast grid is torch's affine_grid (align_corners=False), on non-square sizes."""
    from torch.nn import functional as F

    from workbench.engine.augment import _sampling_grid

    theta = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))
    expected = F.affine_grid(theta, [5, 3, 20, 33], align_corners=False)
    assert torch.allclose(_sampling_grid(theta, 20, 33), expected, atol=1e-6)


def test_colour_jitter_equals_the_textbook_formula() -> None:
    """brightness, then contrast about the mean luma, then saturation about each pixel's luma,
    clamped to 0..1 after each: written out plainly here as the oracle."""
    from workbench.engine.augment import _colour_jitter

    def luma(x: torch.Tensor) -> torch.Tensor:
        return (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)

    torch.manual_seed(0)
    x = torch.rand(6, 3, 20, 17)
    b, c, s = (0.5 + torch.rand(6, dtype=torch.float64) for _ in range(3))
    view = (-1, 1, 1, 1)
    expected = (x * b.float().view(view)).clamp(0, 1)
    mean = luma(expected).mean(dim=(2, 3), keepdim=True)
    expected = ((expected - mean) * c.float().view(view) + mean).clamp(0, 1)
    gray = luma(expected)
    expected = ((expected - gray) * s.float().view(view) + gray).clamp(0, 1)
    original = x.clone()
    torch.testing.assert_close(_colour_jitter(x, b, c, s), expected, atol=1e-6, rtol=0)
    assert torch.equal(x, original)  # the input is left alone


def test_cutout_alone_leaves_the_input_tensor_alone() -> None:
    cutout = BatchAugment(crop_p=0, flip_p=0, affine_p=0, jitter_p=0, cutout_p=1)
    x = _batch(3)
    original = x.clone()
    out, _ = cutout(x, torch.Generator().manual_seed(0))
    assert torch.equal(x, original)
    assert (out == 0).all(dim=1).any()  # a hole was cut in the copy
