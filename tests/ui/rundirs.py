"""Run directories written by the engine's own RunRecorder, without training (fast)."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.config import RunConfig


def write_run(
    run_dir: Path,
    *,
    epochs_done: int = 3,
    epochs: int = 5,
    end: str | None = "finished",
    pid: int | None = None,
    lr: float = 2e-3,
    memory: tuple[float, float] | None = None,
    config: RunConfig | None = None,
) -> Path:
    """``epochs_done`` of ``epochs`` epochs; ``end``: finished, stopped, failed or None;
    ``memory``: (used, total) GiB in the progress events, as a CUDA run reports it;
    ``config``: the run's config.json (default: the defaults with ``lr``)."""
    from workbench.engine.epoch_metrics import EpochMetrics
    from workbench.engine.events import (
        EpochEnd,
        Progress,
        RunFailed,
        RunFinished,
        RunStarted,
        RunStopped,
    )
    from workbench.engine.runs import RunRecorder

    if config is None:
        default = RunConfig()
        config = RunConfig(data=default.data, model=default.model, train=type(default.train)(lr=lr))
    record = RunRecorder(run_dir)
    record(
        RunStarted(
            run_id=run_dir.name, run_dir=str(run_dir), config=config.to_dict(),
            classes=("cat", "dog", "panda"), device="cpu fp32", epochs=epochs, start_epoch=0,
            train_batches=10, val_batches=2, train_images=630, val_images=90, params=1000,
            mult_adds=5000, split_fingerprint="abc123", pid=pid if pid is not None else os.getpid(),
        )
    )  # fmt: skip
    for epoch in range(1, epochs_done + 1):
        for batch in (5, 10):
            record(
                Progress(
                    epoch=epoch, epochs=epochs, phase="train", batch=batch, batches=10,
                    images_per_second=500.0, loss=1.0 / epoch, eta_seconds=30.0,
                    memory_gb=memory[0] if memory else None,
                    memory_total_gb=memory[1] if memory else None,
                )
            )  # fmt: skip
        acc = 0.4 + 0.1 * epoch

        def metrics(loss: float, acc: float = acc) -> EpochMetrics:
            return EpochMetrics(loss, acc, acc, acc, acc, (acc,) * 3, (acc,) * 3, 90)

        record(
            EpochEnd(
                epoch=epoch, epochs=epochs, train=metrics(1.0 / epoch), val=metrics(1.1 / epoch),
                lr=lr, seconds=2.0, train_seconds=1.5, images_per_second=500.0, best_epoch=epoch,
                best_val_accuracy=acc, improved=True,
            )
        )  # fmt: skip
    if end == "finished":
        record(RunFinished(epochs_done, epochs_done, 0.4 + 0.1 * epochs_done, 0.5, 6.0))
    elif end == "stopped":
        record(RunStopped(epochs_done=epochs_done, reason="SIGINT"))
    elif end == "failed":
        record(
            RunFailed(
                message="the loss became NaN at epoch 3, batch 4: lower the learning rate",
                epoch=3, batch=4, error="NonFiniteLossError",
            )
        )  # fmt: skip
    return run_dir
