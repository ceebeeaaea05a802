"""Training-step speed with glibc's default malloc settings and with ``keep_freed_memory``.

    .venv/bin/python benchmarks/cpu_malloc.py [--rounds 3] [--steps 6]

Why: ``workbench train`` lets malloc keep freed blocks of up to 32 MiB instead of returning
them to the kernel (``workbench/cli/tuning.py``). mallopt has to act in the process that
trains, so each measurement is a fresh subprocess; the two settings take turns ``--rounds``
times, so a change in the machine's load hits both alike. Reports images per second and
minor page faults per step (the cost being avoided), medians over rounds, as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import resource, sys, time
from workbench.cli.tuning import keep_freed_memory, passive_openmp
passive_openmp()
if sys.argv[1] == "kept":
    assert keep_freed_memory()
import torch
from workbench.config import ModelConfig, TrainConfig
from workbench.engine.device import default_cpu_threads, setup_device
from workbench.engine.model import build_model
from workbench.engine.optim import build_optimizer
torch.set_num_threads(default_cpu_threads())
setup = setup_device("cpu")
torch.manual_seed(0)
model = build_model(ModelConfig(), 3).to(memory_format=torch.channels_last)
optimizer = build_optimizer(model, TrainConfig())
x = torch.randn(64, 3, 128, 128).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 3, (64,))
def step():
    with setup.autocast():
        loss = torch.nn.functional.cross_entropy(model(x).float(), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
step(); step()
steps = int(sys.argv[2])
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
started = time.perf_counter()
for _ in range(steps):
    step()
seconds = time.perf_counter() - started
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(64 * steps / seconds, faults / steps)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"default": [], "kept": []}
    for _ in range(args.rounds):
        for setting in results:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, setting, str(args.steps)],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            results[setting].append((float(out[0]), float(out[1])))
    rates = {k: statistics.median(r for r, _ in v) for k, v in results.items()}
    print(
        json.dumps(
            {
                "images_per_second": {k: round(v, 1) for k, v in rates.items()},
                "minor_faults_per_step": {
                    k: round(statistics.median(f for _, f in v)) for k, v in results.items()
                },
                "kept_vs_default": round(rates["kept"] / rates["default"], 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
