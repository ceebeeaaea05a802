"""The pieces of a torch.distributed run that need no second process: each process's share of
the batches, torchrun's command line, and how the launcher reports a run's end."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from tests.support.tiny_loop import tiny_data
from workbench.cli.train_distributed import EXIT_USAGE, _failed, torchrun_arguments
from workbench.config import TrainConfig
from workbench.engine.loader import BatchLoader
from workbench.errors import EXIT_STOPPED


def _loader(rank: int, world: int, batch_size: int) -> BatchLoader:
    loader = BatchLoader(
        tiny_data(),
        "train",
        batch_size=batch_size,
        shuffle=True,
        augment="none",
        seed=42,
        device=torch.device("cpu"),
        prefetch=False,
        rank=rank,
        world=world,
    )
    loader.set_epoch(3)
    return loader


@pytest.mark.parametrize(("world", "batch_size"), [(2, 8), (3, 8), (2, 10), (4, 4)])
def test_the_shares_of_each_batch_are_the_one_process_batch(world: int, batch_size: int) -> None:
    whole = [x for x, _ in _loader(0, 1, batch_size)]
    shares = [[x for x, _ in _loader(rank, world, batch_size)] for rank in range(world)]
    assert all(len(share) == len(shares[0]) for share in shares)  # every rank steps together
    seen = []
    for number in range(len(shares[0])):
        parts = [share[number] for share in shares]
        assert all(len(part) >= 1 for part in parts)
        seen.append(torch.cat(parts))
    everything = torch.cat(seen)
    assert len(everything) == len(torch.cat(whole))  # each image once per epoch
    assert _images(everything) == _images(torch.cat(whole))
    if len(seen) == len(whole):  # no small last batch joined: the very batches of one process
        for batch, one in zip(seen, whole, strict=True):
            assert _images(batch) == _images(one)


def _images(batch: torch.Tensor) -> list[tuple[float, ...]]:
    """The batch's images as a sorted list (each by its first pixels): the set, in any order."""
    return sorted(map(tuple, batch.flatten(1)[:, :8].tolist()))


def test_a_last_batch_smaller_than_the_processes_joins_the_one_before() -> None:
    count = len(tiny_data().subset_indices("train"))  # 21
    loader = _loader(0, 4, 10)  # 10, 10, 1: the 1 cannot be shared by 4
    assert count == 21 and len(loader) == 2
    assert [loader.batch_images(n) for n in range(2)] == [10, 11]


def test_torchrun_gets_one_machine_standalone_and_several_a_static_rendezvous() -> None:
    one = torchrun_arguments(TrainConfig(nproc_per_node=2), ["train", "--epochs", "1"])
    assert one == [
        "--nproc-per-node=2",
        "--nnodes=1",
        "--standalone",
        "--module",
        "workbench",
        "train",
        "--epochs",
        "1",
    ]
    two = TrainConfig(nnodes=2, node_rank=1, rdzv_endpoint="10.0.0.1:29400")
    assert torchrun_arguments(two, ["train"])[:5] == [
        "--nproc-per-node=1",
        "--nnodes=2",
        "--rdzv-backend=static",
        "--rdzv-endpoint=10.0.0.1:29400",
        "--node-rank=1",
    ]


@dataclass
class _Failure:
    exitcode: int
    pid: int = 4242
    timestamp: int = 0


def test_the_launcher_names_a_killed_rank_and_passes_on_stops_and_refusals(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _failed({0: _Failure(EXIT_STOPPED), 1: _Failure(EXIT_STOPPED)}, None) == EXIT_STOPPED
    assert _failed({1: _Failure(EXIT_USAGE)}, None) == EXIT_USAGE
    assert capsys.readouterr().err == ""
    assert _failed({0: _Failure(1, timestamp=5), 1: _Failure(-9, pid=7, timestamp=6)}, None) == 1
    line = " ".join(capsys.readouterr().err.split())
    assert "rank 1 (pid 7) was killed by SIGKILL" in line
    # the survivors die of torchrun's SIGTERM, in the same second: not the one to name
    assert _failed({0: _Failure(-15, timestamp=5), 2: _Failure(-9, pid=8, timestamp=5)}, None) == 1
    assert "rank 2 (pid 8) was killed by SIGKILL" in " ".join(capsys.readouterr().err.split())


def test_launch_options_are_trains_alone() -> None:
    from workbench.__main__ import build_parser

    parser = build_parser()
    assert parser.parse_args(["train", "--nproc-per-node", "2"]).nproc_per_node == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["sweep", "--grid", "lr=1e-3", "--nproc-per-node", "2"])
