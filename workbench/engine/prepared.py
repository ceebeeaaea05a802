"""The prepared data set: what the training loop, the loader, evaluation and exports share.

A type of its own module, so that the loader and the exports can take it without importing the
orchestration in ``workbench.engine.data`` (which builds it). Importing this module costs no
``import torch``; only :meth:`PreparedData.subset_indices` needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.config import DataConfig
from workbench.engine.scan import ScanResult
from workbench.engine.split import SplitResult

if TYPE_CHECKING:
    import torch


@dataclass
class PreparedData:
    """Decoded images, labels, split and training-split statistics: what the loop needs."""

    config: DataConfig
    scan: ScanResult
    split: SplitResult
    images: torch.Tensor
    """uint8 (N, 3, S, S), ordered like scan.paths, on the CPU."""
    labels: torch.Tensor
    """int64 (N,)."""
    mean: tuple[float, float, float]
    """Per-channel mean on a 0..1 scale, from the train split only."""
    std: tuple[float, float, float]
    cache_path: Path | None = None
    """The decode cache file the images came from (None when not cached)."""
    cache_hit: bool = False

    @property
    def classes(self) -> list[str]:
        return self.scan.classes

    @property
    def num_classes(self) -> int:
        return len(self.scan.classes)

    @property
    def fingerprint(self) -> str:
        return self.split.fingerprint

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def subset_indices(self, split: str) -> torch.Tensor:
        """int64 indices into images/labels of ``split`` (train, val or test)."""
        import torch

        return torch.tensor(self.split.indices(split), dtype=torch.int64)
