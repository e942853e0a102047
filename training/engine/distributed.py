"""Multi-process data parallel training under ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node N $(which pneumo) train MODEL --data PATH`` starts N
copies of the trainer; each reads RANK / WORLD_SIZE / LOCAL_RANK from the
environment, trains on its shard of every epoch's order, and only rank 0
writes the run folder. NCCL on CUDA, gloo on CPU. Without those variables
everything here is a no-op for a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from training.core.errors import PneumoError


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int]:
        return self.rank, self.world_size

    def device(self) -> str | None:
        """The device this rank should use, or None to pick automatically."""
        if self.enabled and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return "cpu" if self.enabled else None


class DistributedSetupError(PneumoError):
    """torchrun's environment variables do not make sense (WORLD_SIZE=abc, RANK past the world)."""


def env_int(name: str, default: int, lowest: int = 0) -> int:
    """An integer environment variable that torchrun sets, or a one-line error naming it."""
    text = os.environ.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise DistributedSetupError(f"{name}={text!r} is not a whole number (torchrun sets it)") from None
    if value < lowest:
        raise DistributedSetupError(f"{name}={value} must be at least {lowest}")
    return value


def init_distributed() -> DistContext:
    """Join the process group torchrun set up; a single process when it did not."""
    world_size = env_int("WORLD_SIZE", 1, lowest=1)
    if world_size <= 1:
        return DistContext()
    if "RANK" not in os.environ:
        raise DistributedSetupError(f"WORLD_SIZE={world_size} but no RANK: start the processes with torchrun")
    rank, local_rank = env_int("RANK", 0, lowest=0), env_int("LOCAL_RANK", 0, lowest=0)
    if rank >= world_size:
        raise DistributedSetupError(f"RANK={rank} is not below WORLD_SIZE={world_size}")
    ctx = DistContext(rank, world_size, local_rank)
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(ctx.local_rank)
        dist.init_process_group(backend=backend)
    return ctx


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: torch.nn.Module, ctx: DistContext) -> torch.nn.Module:
    """DDP around ``model`` (it syncs the initial weights from rank 0); the model itself when alone."""
    if not ctx.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [ctx.local_rank] if next(model.parameters()).is_cuda else None
    return DistributedDataParallel(model, device_ids=device_ids)


def broadcast(value, ctx: DistContext):
    """Rank 0's ``value`` on every rank (any picklable object)."""
    if not ctx.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool, ctx: DistContext) -> bool:
    """True on every rank when it is True on one (e.g. a SIGINT seen by one process)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([int(flag)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def reduce_sum(values: list[float], ctx: DistContext) -> list[float]:
    """Element-wise sums over all ranks (epoch totals of the shards)."""
    if not ctx.enabled:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t)
    return t.tolist()
