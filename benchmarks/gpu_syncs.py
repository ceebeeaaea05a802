"""Where a training run on a CUDA GPU makes the CPU wait for the GPU, counted per source line.

    .venv/bin/python benchmarks/gpu_syncs.py [--data DIR] [--epochs 2]

Why: each synchronisation (reading a value with ``float()`` or ``.item()``, a plain copy from
pageable memory to the GPU) makes the CPU wait until the GPU has finished everything queued,
so the next batch's kernels cannot be queued while this one computes. The training loop reads
its losses only when it reports progress (at most 4 times a second) and sends augmentation
parameters from pinned memory (``engine/loop.py`` ``_LossCheck``, ``engine/augment.py``
``_to_device``). This trains with ``torch.cuda.set_sync_debug_mode("warn")`` and counts the
warnings by the line that caused them, next to the number of training batches: a line that
syncs once a batch shows up with a count near the batch count. Prints JSON; needs CUDA.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import warnings

import torch

from workbench.config import DataConfig, RunConfig, TrainConfig
from workbench.engine.data import prepare_data
from workbench.engine.events import Event, Progress
from workbench.engine.loop import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="image folder (default: the demo set)")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_syncs.py needs a CUDA device", file=sys.stderr)
        sys.exit(2)
    config = RunConfig(
        data=DataConfig(data=args.data),
        train=TrainConfig(epochs=args.epochs, warmup_epochs=1, device="cuda"),
    ).validate()
    data = prepare_data(config.data)
    batches: collections.Counter[str] = collections.Counter()

    def count(event: Event) -> None:
        if isinstance(event, Progress) and event.batch == event.batches:
            batches[event.phase] += event.batches

    with tempfile.TemporaryDirectory() as run_dir, warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            result = fit(config, data, run_dir, subscribers=[count])
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = collections.Counter(
        f"{w.filename}:{w.lineno}" for w in seen if "synchroniz" in str(w.message)
    )
    print(
        json.dumps(
            {
                "device": torch.cuda.get_device_name(),
                "state": result.state,
                "train_batches": batches["train"],
                "val_batches": batches["val"],
                "syncs": sum(syncs.values()),
                "syncs_by_line": dict(syncs.most_common(15)),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
