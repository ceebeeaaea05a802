"""PreparedData, OneHotDataset and BatchLoader: one-hot targets, normalisation, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from workbench.config import DataConfig
from workbench.engine.data import prepare_data
from workbench.engine.loader import BatchLoader, OneHotDataset
from workbench.engine.prepared import PreparedData

CPU = torch.device("cpu")


@pytest.fixture
def prepared(image_folder: Path, cache_dir: Path) -> PreparedData:
    return prepare_data(DataConfig(data=str(image_folder), image_size=64, cache_dir=str(cache_dir)))


def test_prepared_data(prepared: PreparedData) -> None:
    assert prepared.classes == ["cats", "dogs", "panda"]
    assert prepared.labels.dtype == torch.int64 and prepared.labels.shape == (36,)
    assert len(prepared.fingerprint) == 12
    train = prepared.subset_indices("train")
    assert train.dtype == torch.int64 and len(train) == 3 * 8
    pixels = prepared.images[train].to(torch.float64) / 255
    mean = pixels.mean(dim=(0, 2, 3))
    std = pixels.std(dim=(0, 2, 3), unbiased=False)
    assert torch.allclose(mean, torch.tensor(prepared.mean, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(std, torch.tensor(prepared.std, dtype=torch.float64), atol=1e-6)


def test_one_hot_dataset(prepared: PreparedData) -> None:
    dataset = OneHotDataset(prepared, "val")
    assert len(dataset) == 3
    x, y = dataset[0]
    assert x.dtype == torch.float32 and x.shape == (3, 64, 64)
    assert y.dtype == torch.float32 and y.shape == (3,) and y.sum() == 1
    index = int(prepared.subset_indices("val")[0])
    assert int(y.argmax()) == int(prepared.labels[index])


@pytest.mark.parametrize("augment", ["none", "builtin", "albumentations"])
def test_loader_shapes_and_one_hot(prepared: PreparedData, augment: str) -> None:
    loader = BatchLoader(
        prepared, "train", batch_size=10, shuffle=True, augment=augment, seed=1, device=CPU,
        num_workers=0,
    )  # fmt: skip
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(y) for _, y in batches] == [10, 10, 4]
    for x, y in batches:
        assert x.dtype == torch.float32 and x.shape[1:] == (3, 64, 64) and x.device == CPU
        assert y.dtype == torch.float32 and y.shape[1] == 3
        assert torch.equal(y.sum(dim=1), torch.ones(len(y)))


def test_unaugmented_train_split_is_normalised(prepared: PreparedData) -> None:
    loader = BatchLoader(
        prepared, "train", batch_size=64, shuffle=False, augment="none", seed=0, device=CPU
    )
    x = torch.cat([x for x, _ in loader])
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3)


@pytest.mark.parametrize("augment", ["builtin", "albumentations"])
def test_epoch_is_a_pure_function_of_seed_and_epoch(prepared: PreparedData, augment: str) -> None:
    def epoch(seed: int, number: int) -> list[torch.Tensor]:
        loader = BatchLoader(
            prepared, "train", batch_size=8, shuffle=True, augment=augment, seed=seed,
            device=CPU, num_workers=0,
        )  # fmt: skip
        loader.set_epoch(number)
        return [torch.cat([x.flatten(), y.flatten()]) for x, y in loader]

    first = epoch(5, 3)
    assert all(torch.equal(a, b) for a, b in zip(first, epoch(5, 3), strict=True))
    assert not torch.equal(first[0], epoch(5, 4)[0])
    assert not torch.equal(first[0], epoch(6, 3)[0])


def test_eval_loader_keeps_order(prepared: PreparedData) -> None:
    loader = BatchLoader(
        prepared, "test", batch_size=4, shuffle=False, augment="none", seed=0, device=CPU
    )
    labels = torch.cat([y.argmax(dim=1) for _, y in loader])
    assert torch.equal(labels, prepared.labels[prepared.subset_indices("test")])


def test_albumentations_workers_match_single_process(prepared: PreparedData) -> None:
    def batches(workers: int) -> list[torch.Tensor]:
        loader = BatchLoader(
            prepared, "train", batch_size=8, shuffle=True, augment="albumentations", seed=3,
            device=CPU, num_workers=workers,
        )  # fmt: skip
        loader.set_epoch(2)
        return [x for x, _ in loader]

    assert all(torch.equal(a, b) for a, b in zip(batches(0), batches(2), strict=True))


def _prefetch_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("workbench-prefetch")]


def test_prefetched_batches_equal_serial_ones(prepared: PreparedData) -> None:
    def epoch(prefetch: bool, channels_last: bool = False) -> list[tuple[torch.Tensor, ...]]:
        loader = BatchLoader(
            prepared, "train", batch_size=8, shuffle=True, augment="builtin", seed=3,
            device=CPU, prefetch=prefetch, channels_last=channels_last,
        )  # fmt: skip
        loader.set_epoch(2)
        return list(loader)

    serial = epoch(False)
    assert len(serial) > 2
    for channels_last in (False, True):
        background = epoch(True, channels_last)
        assert len(background) == len(serial)
        for (x, y), (xs, ys) in zip(background, serial, strict=True):
            assert torch.equal(x, xs) and torch.equal(y, ys)
            assert x.is_contiguous(memory_format=torch.channels_last) == channels_last
    assert not _prefetch_threads()


def test_stopping_early_leaves_no_prefetch_thread(prepared: PreparedData) -> None:
    loader = BatchLoader(
        prepared, "train", batch_size=4, shuffle=True, augment="builtin", seed=0, device=CPU,
        prefetch=True,
    )  # fmt: skip
    batches = iter(loader)
    next(batches)
    assert _prefetch_threads()  # the next batch is being made
    loader.settle()
    batches.close()  # what a `break` out of the training loop does
    assert not _prefetch_threads()
    loader.settle()  # nothing pending: returns at once


def test_an_error_making_a_batch_reaches_the_caller(prepared: PreparedData) -> None:
    loader = BatchLoader(
        prepared, "train", batch_size=4, shuffle=False, augment="builtin", seed=0, device=CPU,
        prefetch=True,
    )  # fmt: skip

    def broken(images: torch.Tensor, generator: torch.Generator) -> None:
        raise RuntimeError("augmentation broke")

    loader._batch_augment = broken  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match="augmentation broke"):
        next(iter(loader))
    assert not _prefetch_threads()


def test_prefetch_defaults_to_the_cpu_only(prepared: PreparedData) -> None:
    def loader(device: str) -> bool:
        return BatchLoader(
            prepared, "val", batch_size=4, shuffle=False, augment="none", seed=0,
            device=torch.device(device),
        ).prefetch  # fmt: skip

    assert loader("cpu")
    assert not loader("meta")
