"""Batches for training and evaluation: one-hot targets, normalisation, augmentation.

:class:`BatchLoader` is what the training loop iterates. With ``augment="builtin"`` or
``"none"`` the split's uint8 images are moved to the device once and every batch is indexed,
augmented (batched tensor ops, per-image random parameters) and normalised there. With
``"albumentations"`` a torch DataLoader runs :class:`OneHotDataset` with a per-sample transform
in worker processes. Either way, ``set_epoch(e)`` makes the order and the augmentation a pure
function of (seed, epoch), so a resumed run reproduces an uninterrupted one. Under
torch.distributed (``rank`` of ``world`` processes) each process yields its share of every
batch of that order, so the processes' batches together are the one process's.

On the CPU the next batch is made on a background thread while the caller trains on this one
(``prefetch``): the batched augmentation costs about 20 ms of a 200-400 ms training step, and
the overlap hides it as far as the cores have idle time (``workbench bench``: the pipeline at
93-95% of the model's own speed on 2 cores). The batches are the same either way: each is a
pure function of (seed, epoch, index).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from workbench.engine.augment import AlbumentationsAugment, BatchAugment

if TYPE_CHECKING:
    from workbench.engine.prepared import PreparedData

Batch = tuple[torch.Tensor, torch.Tensor]


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integers, the same on every machine (no Python ``hash``)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, num_classes).to(torch.float32)


class OneHotDataset(Dataset[Batch]):
    """One split of a PreparedData: (float CHW normalised image, one-hot float (C,) target).

    ``transform`` takes and returns a uint8 HWC numpy image. If it has a ``reseed(seed)``
    method (as :class:`AlbumentationsAugment` does), it is reseeded per sample from
    (seed, epoch, index), so results do not depend on worker count or order.
    """

    def __init__(
        self,
        data: PreparedData,
        split: str,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.images = data.images
        self.labels = data.labels
        self.indices = data.subset_indices(split)
        self.num_classes = data.num_classes
        self.mean = torch.tensor(data.mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(data.std, dtype=torch.float32).view(3, 1, 1)
        self.transform = transform
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> Batch:
        index = int(self.indices[item])
        image = self.images[index]
        if self.transform is not None:
            reseed = getattr(self.transform, "reseed", None)
            if reseed is not None:
                reseed(mix_seed(self.seed, self.epoch, index))
            array = self.transform(image.permute(1, 2, 0).numpy())
            image = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)
        x = (image.to(torch.float32) / 255.0 - self.mean) / self.std
        y = one_hot(self.labels[index], self.num_classes)
        return x, y


class BatchLoader:
    """Iterable of (x, y): x float32 (B, 3, S, S) normalised, y float32 one-hot (B, C).

    Both on ``device``. ``len()`` is the number of batches (the last one may be smaller).
    """

    def __init__(
        self,
        data: PreparedData,
        split: str,
        *,
        batch_size: int,
        shuffle: bool,
        augment: str,
        seed: int,
        device: torch.device,
        num_workers: int = 2,
        channels_last: bool = False,
        prefetch: bool | None = None,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if augment not in ("builtin", "albumentations", "none"):
            raise ValueError(f"augment must be builtin, albumentations or none, got {augment!r}")
        self.data = data
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self.seed = seed
        self.device = torch.device(device)
        self.num_workers = num_workers
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.prefetch = self.device.type == "cpu" if prefetch is None else prefetch
        """Make the next batch on a background thread (default: on the CPU, where the
        augmentation's time would otherwise add to the step's; elsewhere it is asynchronous)."""
        self.rank, self.world = rank, world
        """This process's share of every batch under torch.distributed: positions ``rank``,
        ``rank + world``, ... of the batch (DistributedSampler's split, made per batch so that
        the processes' batches together are the batch one process would take)."""
        self._pending: Future[Batch | None] | None = None
        self.epoch = 0
        self.indices = data.subset_indices(split)
        mean = torch.tensor(data.mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(data.std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._scale, self._shift = 1 / std, -mean / std
        """(x - mean) / std as x * scale + shift: one fused multiply-add per batch."""
        self._images: torch.Tensor | None = None
        self._labels: torch.Tensor | None = None
        self._batch_augment = BatchAugment() if augment == "builtin" else None
        self._dataset: OneHotDataset | None = None
        if augment == "albumentations":
            transform = AlbumentationsAugment(data.image_size, seed=seed)
            self._dataset = OneHotDataset(data, split, transform, seed=seed)

    def set_epoch(self, epoch: int) -> None:
        """Fix the shuffling and augmentation of the next iteration to (seed, epoch)."""
        self.epoch = epoch
        if self._dataset is not None:
            self._dataset.epoch = epoch

    def __len__(self) -> int:
        return len(self._bounds())

    def _bounds(self) -> list[tuple[int, int]]:
        """(start, stop) of every batch in the epoch's order. With several processes a last
        batch smaller than their number joins the one before, so that each process has a
        share of every batch (a split smaller than that is refused by the loop)."""
        count = len(self.indices)
        bounds = [(a, min(a + self.batch_size, count)) for a in range(0, count, self.batch_size)]
        if self.world > 1 and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < self.world:
            bounds[-2:] = [(bounds[-2][0], count)]
        return bounds

    def batch_images(self, number: int) -> int:
        """Images in batch ``number`` over all processes (this process has about 1/world)."""
        start, stop = self._bounds()[number]
        return stop - start

    def _order(self) -> torch.Tensor:
        """Positions within the split, in this epoch's order."""
        if not self.shuffle:
            return torch.arange(len(self.indices))
        generator = torch.Generator().manual_seed(mix_seed(self.seed, self.epoch, 0))
        return torch.randperm(len(self.indices), generator=generator)

    def __iter__(self) -> Iterator[Batch]:
        if self._dataset is not None:
            yield from self._iter_workers()
        else:
            yield from self._iter_tensors()

    def _iter_tensors(self) -> Iterator[Batch]:
        batches = self._tensor_batches()
        if not self.prefetch:
            yield from batches
            return
        with ThreadPoolExecutor(1, thread_name_prefix="workbench-prefetch") as pool:
            try:
                self._pending = pool.submit(next, batches, None)
                while (batch := self._pending.result()) is not None:
                    self._pending = pool.submit(next, batches, None)
                    yield batch
            finally:  # also when the caller stops early: the pool waits for the last batch
                self._pending = None

    def settle(self) -> None:
        """Wait until the batch being made in the background is done (for fair timing)."""
        pending = self._pending
        if pending is not None:
            pending.result()

    def _tensor_batches(self) -> Iterator[Batch]:
        if self._images is None or self._labels is None:
            # The split's uint8 images move to the device once (2100 x 3 x 128 x 128 = 100 MB).
            self._images = self.data.images[self.indices].to(self.device)
            self._labels = self.data.labels[self.indices].to(self.device)
        order = self._order().to(self.device)
        classes = self.data.num_classes
        for number, (start, stop) in enumerate(self._bounds()):
            take = order[start:stop][self.rank :: self.world]
            x = self._images[take].to(torch.float32).mul_(1 / 255)
            if self._batch_augment is not None:
                # Rank 0 draws as one process does; the others draw streams of their own.
                stream = (self.rank,) if self.rank else ()
                generator = torch.Generator().manual_seed(
                    mix_seed(self.seed, self.epoch, 1, number, *stream)
                )
                x, _ = self._batch_augment(x, generator)
            # (x - mean) / std as x * (1/std) - mean/std, written straight in the model's
            # memory format: one pass instead of three (subtract, divide, relayout).
            out = torch.empty_like(x, memory_format=self.memory_format)
            torch.addcmul(self._shift, x, self._scale, out=out)
            yield out, one_hot(self._labels[take], classes)

    def _iter_workers(self) -> Iterator[Batch]:
        assert self._dataset is not None
        pin = self.device.type == "cuda"
        kwargs: dict[str, Any] = {}
        if self.num_workers > 0:
            kwargs["persistent_workers"] = False
        order = self._order()
        batches = [order[a:b][self.rank :: self.world].tolist() for a, b in self._bounds()]
        loader = DataLoader(
            self._dataset,
            batch_sampler=batches,
            num_workers=self.num_workers,
            pin_memory=pin,
            **kwargs,
        )
        for x, y in loader:
            yield x.to(self.device, non_blocking=pin), y.to(self.device, non_blocking=pin)
