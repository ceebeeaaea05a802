"""``workbench train`` on several processes: the launcher, and what each process does.

The launcher is torchrun's own elastic agent (``torch.distributed.run``), run in this process
so that the pid the user or the TUI signals is the one that holds the run's lock and forwards
the signal: torchrun starts each worker in a session of its own and passes SIGINT, SIGTERM or
SIGHUP on to every one exactly once; the workers agree to stop after the current batch, rank 0
writes ``last.pt``, and the launcher exits 130. When a worker dies, torchrun stops the others
(SIGTERM; a collective with a dead process fails at once, a hung one within
:data:`~workbench.engine.distributed.GROUP_TIMEOUT_SECONDS`) and the launcher names the rank.

Each worker runs ``workbench train`` again with the same arguments; torchrun's environment
(``RANK``, ``WORLD_SIZE``, ...) tells it that it is one process of the run (:func:`run_rank`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.common import err_console, progress_bar
from workbench.config import RunConfig, TrainConfig, with_values
from workbench.errors import EXIT_STOPPED, UsageError

if TYPE_CHECKING:
    from workbench.engine.distributed import World
    from workbench.engine.prepared import PreparedData
    from workbench.engine.runs import RunLock

LAUNCHER_PID = "WORKBENCH_LAUNCHER_PID"
"""The launcher's pid, in every worker's environment: rank 0 writes under its lock."""
EXIT_USAGE = 2


# ------------------------------------------------------------------------------ the launcher


def torchrun_arguments(train: TrainConfig, worker: list[str]) -> list[str]:
    """torchrun's command line for ``train``'s processes, each running ``workbench`` with the
    arguments ``worker``. One machine without an endpoint: a standalone rendezvous on a free
    local port; otherwise the static one at machine 0's HOST:PORT."""
    where = [f"--nproc-per-node={train.nproc_per_node}", f"--nnodes={train.nnodes}"]
    if train.rdzv_endpoint is None:
        where.append("--standalone")
    else:
        where += [
            "--rdzv-backend=static",
            f"--rdzv-endpoint={train.rdzv_endpoint}",
            f"--node-rank={train.node_rank}",
        ]
    return [*where, "--module", "workbench", *worker]


def worker_arguments(args: argparse.Namespace, run_dir: Path | None) -> list[str]:
    """This command's own arguments, with the run directory the launcher chose (argparse keeps
    the last ``--run-dir``)."""
    argv = list(args.argv)
    return argv if run_dir is None else [*argv, "--run-dir", str(run_dir)]


def threads_per_process(processes: int) -> int:
    """Each process's share of this machine's cores (torchrun's own default is 1)."""
    from workbench.engine.device import default_cpu_threads

    return max(1, default_cpu_threads() // processes)


def launch(config: RunConfig, args: argparse.Namespace, run_dir: Path | None) -> int:
    """Train ``config`` on ``config.train.nproc_per_node`` processes here (machine
    ``node_rank`` of ``nnodes``) under torchrun; the exit code of the run."""
    from torch.distributed import DistNetworkError
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    os.environ[LAUNCHER_PID] = str(os.getpid())
    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_process(config.train.nproc_per_node)))
    _check_gpus(config.train)
    _quiet_torchrun()
    argv = torchrun_arguments(config.train, worker_arguments(args, run_dir))
    try:
        run(parse_args(argv))
    except SignalException:
        return EXIT_STOPPED  # every worker got the signal once; rank 0 said how it ended
    except ChildFailedError as error:
        return _failed(error.failures, run_dir)
    except DistNetworkError as error:
        raise UsageError(_network_problem(config.train, error)) from None
    return 0


def _check_gpus(train: TrainConfig) -> None:
    """UsageError when CUDA would train but there are fewer GPUs than processes here."""
    import torch

    wants_gpu = train.device in ("auto", "cuda") and torch.cuda.is_available()
    if wants_gpu and torch.cuda.device_count() < train.nproc_per_node:
        raise UsageError(
            f"--nproc-per-node {train.nproc_per_node}: this machine has "
            f"{torch.cuda.device_count()} GPU(s), and each process takes one"
        )


def _quiet_torchrun() -> None:
    """Silence torchrun's own log lines (banners, a worker's exit code): the workers speak
    for themselves and the launcher says in one line how a failed run ended. Its loggers set
    their own levels when their modules are imported, hence one by one."""
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _network_problem(train: TrainConfig, error: Exception) -> str:
    """One line for a rendezvous that could not start (a port in use, a wrong address)."""
    endpoint = train.rdzv_endpoint or "a local port"
    text = str(error)
    if "EADDRINUSE" in text or "address already in use" in text.lower():
        return f"--rdzv-endpoint {endpoint}: the port is in use; pick another"
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return f"--rdzv-endpoint {endpoint}: the processes could not meet ({first[:120]})"


def _failed(failures: dict[int, Any], run_dir: Path | None) -> int:
    """The exit code of a run whose workers did not all end well, and one line naming the
    rank that was killed (or ended first), unless rank 0 has said why the run failed."""
    codes = {failure.exitcode for failure in failures.values()}
    if codes <= {EXIT_STOPPED}:  # a stop asked of one worker ends them all with 130
        return EXIT_STOPPED
    if codes <= {EXIT_STOPPED, EXIT_USAGE, 1} and EXIT_USAGE in codes:
        return EXIT_USAGE  # a worker refused its input and said why
    killed = {rank: failure for rank, failure in failures.items() if failure.exitcode < 0}
    if not killed and _run_state(run_dir) == "failed":
        return 1  # e.g. a non-finite loss: rank 0 said so, and every rank ended with it
    # torchrun stops the survivors with SIGTERM: the one that ended the run died otherwise
    rank, first = min(
        (killed or failures).items(),
        key=lambda item: (item[1].exitcode == -signal.SIGTERM, item[1].timestamp, item[0]),
    )
    where = f"; last.pt in {run_dir} is the last good epoch" if run_dir is not None else ""
    err_console.print(
        f"[bold red]failed:[/] rank {rank} (pid {first.pid}) {_ending(first.exitcode)}; "
        f"the other processes were stopped{where}",
        highlight=False,
    )
    return 1


def _run_state(run_dir: Path | None) -> str | None:
    """The state status.json records (None: no run here, or none readable)."""
    from workbench.engine.runs import Run
    from workbench.errors import RunFileError

    if run_dir is None:
        return None
    try:
        status = Run(run_dir).status()
    except (RunFileError, OSError):
        return None
    return status.state if status is not None else None


def _ending(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


# ------------------------------------------------------------------------------ each process


def run_rank(args: argparse.Namespace) -> int:
    """One process of a torch.distributed run (started by torchrun): join the others, take
    the run and its config from rank 0, train this process's share, and end together."""
    from workbench.engine.distributed import (
        die_with_parent,
        join,
        leave,
        lost_peer,
        world_from_env,
    )

    die_with_parent()
    world = world_from_env()
    join(world)
    try:
        return _train_rank(args, world)
    except RuntimeError as error:
        if not lost_peer(error):
            raise
        if LAUNCHER_PID not in os.environ:  # else the launcher names the rank that ended
            err_console.print(f"rank {world.rank}: another process of the run ended", style="red")
        return 1
    finally:
        leave()


def _train_rank(args: argparse.Namespace, world: World) -> int:
    from workbench.cli.train import TrainDisplay, aborted, report
    from workbench.engine.loop import StopFlag, fit, handle_signals

    lock, run_dir, config = _shared_run(args, world)
    with lock if lock is not None else contextlib.nullcontext():
        stop = StopFlag()
        with handle_signals(stop):
            data = _prepare(config, world)
            display = TrainDisplay(quiet=False)
            shown = display if world.is_main else contextlib.nullcontext()
            try:
                with shown:
                    result = fit(
                        config,
                        data,
                        run_dir,
                        subscribers=[display] if world.is_main else [],
                        resume=args.resume,
                        stop=stop,
                        world=world,
                    )
            except KeyboardInterrupt:
                return aborted(run_dir) if world.is_main else EXIT_STOPPED
    if world.is_main:
        return report(args, result, display, run_dir)
    return {"finished": 0, "stopped": EXIT_STOPPED}.get(result.state, 1)


def _shared_run(args: argparse.Namespace, world: World) -> tuple[RunLock | None, Path, RunConfig]:
    """Rank 0 claims the run (under its launcher's lock) and settles its config; every process
    gets both from it (a refusal too: rank 0 says why, the others end quietly with 2)."""
    from workbench.engine.distributed import broadcast

    claimed: tuple[RunLock, Path, RunConfig] | None = None
    shared: tuple[str, Any]
    if world.is_main:
        try:
            claimed = _claim_main(args, world)
            shared = (str(claimed[1].resolve()), claimed[2].to_dict())
        except UsageError as error:
            shared = ("error", str(error))
            broadcast(world, shared)
            raise
    shared = broadcast(world, shared if world.is_main else None)
    if shared[0] == "error":
        raise SystemExit(EXIT_USAGE)
    if claimed is not None:
        return claimed
    return None, Path(shared[0]), _with_local_options(args, RunConfig.from_dict(shared[1]))


def _claim_main(args: argparse.Namespace, world: World) -> tuple[RunLock, Path, RunConfig]:
    """Rank 0's run: the launcher's (its lock adopted), or, under a torchrun started by hand,
    one claimed as one process claims it; the config's world size is the one running."""
    from workbench.cli.train import _claim, _resume_config, config_from_args
    from workbench.engine.runs import RunLock

    launcher = os.environ.get(LAUNCHER_PID)
    if launcher is None:
        lock, run_dir, config = _claim(args)
    else:
        run_dir = Path(args.run_dir)
        lock = RunLock.adopt(run_dir, int(launcher))
        config = _resume_config(args, run_dir) if args.resume else config_from_args(args)
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world.size))
    sizes = {"nproc_per_node": local, "nnodes": world.size // local}
    return lock, run_dir, with_values(config, sizes)


def _with_local_options(args: argparse.Namespace, config: RunConfig) -> RunConfig:
    """Rank 0's config with the options that are this machine's own (where the data and the
    cache are, the device, workers), when given here."""
    from workbench.cli.options import given_values
    from workbench.config import offered_fields

    local = given_values(args, (f.name for f in offered_fields() if f.option.resumed))
    if local.get("data") is not None:
        local["data"] = str(Path(local["data"]).expanduser().resolve())
    return with_values(config, local)


def _prepare(config: RunConfig, world: World) -> PreparedData:
    """The run's data, decoded into the cache by one process per machine, then read from it
    by the others (they would otherwise all decode the same images at once)."""
    from workbench.engine.data import prepare_data

    with _in_turn(world):
        progress = progress_bar() if world.is_main else contextlib.nullcontext(None)
        with progress as report:
            return prepare_data(config.data, report)


@contextlib.contextmanager
def _in_turn(world: World) -> Iterator[None]:
    """Local rank 0 first; the others after every machine's first is done."""
    from workbench.engine.distributed import barrier

    first = world.local_rank == 0
    if not first:
        barrier(world)
    yield
    if first:
        barrier(world)
