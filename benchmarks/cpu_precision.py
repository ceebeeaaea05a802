"""Training-step speed on the CPU by memory format and precision, side by side.

    .venv/bin/python benchmarks/cpu_precision.py [--size 128] [--batch 64] [--rounds 5]

Why: ``setup_device("cpu")`` picks channels-last and, where the CPU computes bf16 in hardware
(AVX512-BF16 or AMX), bf16 autocast. This shows what each choice is worth on this machine.
The variants take turns step by step (``--rounds`` times each), so a change in the machine's
load hits them alike; medians are reported. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from workbench.config import ModelConfig, TrainConfig
from workbench.engine.device import cpu_has_native_bf16, default_cpu_threads
from workbench.engine.model import build_model, summarize
from workbench.engine.optim import build_optimizer

VARIANTS = {
    "nchw_fp32": (False, False),
    "nhwc_fp32": (True, False),
    "nchw_bf16": (False, True),
    "nhwc_bf16": (True, True),
}


def make_step(
    config: ModelConfig, channels_last: bool, bf16: bool, batch: int, size: int
) -> Callable[[], None]:
    """One training step (forward, loss, backward, AdamW) of a fresh model on a fixed batch."""
    torch.manual_seed(0)
    model = build_model(config, 3)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = build_optimizer(model, TrainConfig())
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=memory_format)
    y = torch.randint(0, 3, (batch,))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(default_cpu_threads())
    config = ModelConfig()
    steps = {
        name: make_step(config, cl, bf16, args.batch, args.size)
        for name, (cl, bf16) in VARIANTS.items()
    }
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():  # warm-up: oneDNN picks and caches its kernels
        step()
        step()
    for _ in range(args.rounds):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - started)
    rates = {name: args.batch / statistics.median(s) for name, s in seconds.items()}
    summary = summarize(build_model(config, 3), args.size)
    print(
        json.dumps(
            {
                "model_mult_adds": summary.mult_adds,
                "image_size": args.size,
                "batch": args.batch,
                "threads": torch.get_num_threads(),
                "native_bf16": cpu_has_native_bf16(),
                "images_per_second": {k: round(v, 1) for k, v in rates.items()},
                "vs_nchw_fp32": {k: round(v / rates["nchw_fp32"], 2) for k, v in rates.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
