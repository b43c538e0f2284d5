"""Distributed data parallel through PyTorch's own engine: torchrun starts the processes, DDP averages.

`torchrun --nproc-per-node N -m cnncli train ...` sets RANK, WORLD_SIZE and LOCAL_RANK for each
process; `cnn train --nproc N` starts exactly that. Every process holds the whole split, takes its own
slice of each global batch (see runtime.sources.batch_indices), and DDP averages the gradients, so N processes
follow the path of one process with the same global batch. Only rank 0 writes files and shows progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from cnncli.core.errors import UsageError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """The one process that writes files and reports progress."""
        return self.rank == 0


def world_from_env() -> World:
    """The process's place in a torchrun launch, or a world of one."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise UsageError("WORLD_SIZE, RANK and LOCAL_RANK must be whole numbers (torchrun sets them)") from None
    return World(rank, size, local_rank)


def init(world: World, device: torch.device) -> None:
    """Join the process group: NCCL between GPUs, gloo on CPUs."""
    if world.distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=world.rank, world_size=world.size)


def shutdown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every process when it is true on any: all processes must agree to stop at one step."""
    if not world.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def broadcast_text(text: str, world: World, device: torch.device) -> str:
    """Rank 0's string on every process (the run folder's path), as bytes in a tensor: nothing pickled."""
    if not world.distributed:
        return text
    data = torch.tensor(list(text.encode()) if world.main else [], dtype=torch.uint8, device=device)
    length = torch.tensor([data.numel()], dtype=torch.int64, device=device)
    dist.broadcast(length, src=0)
    if not world.main:
        data = torch.empty(int(length.item()), dtype=torch.uint8, device=device)
    dist.broadcast(data, src=0)
    return bytes(data.cpu().tolist()).decode()


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
