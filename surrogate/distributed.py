"""Data-parallel training across processes (torch.distributed): gloo on CPUs, NCCL on GPUs.

`dragopt train --ddp N` starts N processes here (torch.multiprocessing.spawn, a free local port); a job launched by
`torchrun` is recognised by its RANK / WORLD_SIZE / LOCAL_RANK variables instead. Each process runs the same
surrogate.train.train: it draws the same global batch, keeps every N-th sample, and DistributedDataParallel
averages the gradients (HIG gathers the per-sample Jacobians instead; surrogate.train.update). Only rank 0 writes.
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
    try:
        fn(*args)
    finally:
        dist.destroy_process_group()


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
    try:
        fn(*args)
    finally:
        dist.destroy_process_group()
