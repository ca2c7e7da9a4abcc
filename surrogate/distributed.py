"""Data-parallel training across processes (torch.distributed): gloo on CPUs, NCCL on GPUs.

`dragopt train --ddp N` starts N processes here (torch.multiprocessing.spawn, a free local port); a job
launched by `torchrun` is recognised by its RANK / WORLD_SIZE / LOCAL_RANK variables instead. Each process
runs the same surrogate.train.train: it draws the same global batch, keeps every N-th sample, and
DistributedDataParallel averages the gradients (HIG gathers the per-sample Jacobians instead). Only rank 0
writes.

The reductions below (world_size, rank, gather, everywhere, global_max, global_mean) are what the training
loop needs from the process group; in a single process they return their input, so the loop reads the same
either way.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import torch
import torch.distributed as dist


def under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _init(rank: int, world: int, device: str) -> None:
    if device == "cuda":
        local = int(os.environ.get("LOCAL_RANK", rank))
        if local >= torch.cuda.device_count():
            raise ValueError(
                f"process {local} has no GPU: {torch.cuda.device_count()} visible; use fewer processes"
            )
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if device == "cuda" else "gloo", rank=rank, world_size=world)


def _worker(rank: int, world: int, port: int, device: str, threads: int, fn: Callable, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(threads)
    _init(rank, world, device)
    _run(fn, args)


def launch(fn: Callable, args: tuple, processes: int, device: str = "cpu") -> None:
    """Run fn(*args) in `processes` processes joined in one process group (rank 0 is the one that writes)."""
    import torch.multiprocessing as mp

    if processes < 2:
        raise ValueError(f"--ddp needs at least 2 processes; got {processes}")
    if device == "cuda" and processes > torch.cuda.device_count():
        raise ValueError(f"--ddp {processes} with --device cuda: only {torch.cuda.device_count()} GPUs here")
    threads = max(1, (os.cpu_count() or 1) // processes)
    mp.spawn(_worker, args=(processes, _free_port(), device, threads, fn, args), nprocs=processes, join=True)


def run_under_torchrun(fn: Callable, args: tuple, device: str) -> None:
    _init(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), device)
    _run(fn, args)


def _run(fn: Callable, args: tuple) -> None:
    """fn(*args) in this process of the group; the processes leave the group together (a process that tore
    its group down while another still wrote its checkpoint was seen to abort under load)."""
    try:
        fn(*args)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def world_size() -> int:
    """The number of training processes (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without a process group): rank 0 writes."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def gather(t: torch.Tensor) -> torch.Tensor:
    """Every process's tensor concatenated along dim 0, in rank order."""
    if world_size() == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def everywhere(flag: bool) -> bool:
    """Whether flag holds in every process (so that the processes stop together)."""
    if world_size() == 1:
        return bool(flag)
    t = torch.tensor([1 if flag else 0], device=_device())
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def _reduce(v: float, op: str) -> float:
    if world_size() == 1:
        return v
    t = torch.tensor([v], dtype=torch.float64, device=_device())
    dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
    return float(t.item())


def _device() -> torch.device:
    """Where a reduction's tensor must live: NCCL reduces only CUDA tensors, gloo CPU ones."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def global_max(v: float) -> float:
    """The largest v over the processes."""
    return _reduce(v, "MAX")


def global_mean(v: float) -> float:
    """v averaged over the processes (a reported loss: the whole batch's)."""
    return _reduce(v, "SUM") / world_size()
