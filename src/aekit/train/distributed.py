"""DistributedDataParallel under torchrun: one process per device, gloo on CPU, NCCL on GPU.

torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (plus the rendezvous
address) for each process it starts; :func:`context` reads them and joins the
process group once.  Every rank holds the same data (in memory or memory-mapped),
draws the same permutation each epoch and trains on its own slice of each global
batch, so ``batch_size`` is the global batch whatever the number of processes.
Metrics are summed across ranks; only rank 0 writes files.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


#: Seconds a rank waits for the others in one collective (every training step has one) before
#: failing: a stopped or stalled rank then ends the job instead of hanging it.
DEFAULT_TIMEOUT_SECONDS = 600.0
_timeout = {"seconds": DEFAULT_TIMEOUT_SECONDS}


def set_timeout(seconds: float) -> None:
    """The collective timeout of the process group this process joins next (``aekit train --ddp-timeout``)."""
    _timeout["seconds"] = float(seconds)


def timeout_seconds() -> float:
    return _timeout["seconds"]


def describe_failure(exc: BaseException) -> str | None:
    """A one-line account of a collective that failed because another rank stopped or stalled
    (None outside a torchrun job, or for other errors)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not isinstance(exc, RuntimeError):
        return None
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return (
        f"rank {os.environ.get('RANK', '?')} lost the other ranks of this torchrun job: one stopped, or did not "
        f"answer within --ddp-timeout={_timeout['seconds']:g} s ({first}). The run folder keeps the last "
        "checkpoint; find why that rank stopped (its own log), then rerun with --resume."
    )


@dataclass(frozen=True)
class DistributedContext:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def context() -> DistributedContext:
    """The torchrun process layout, joining the process group on first use.

    Outside torchrun (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) this is a single process.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=_timeout["seconds"]))
    return DistributedContext(world_size, dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")))


def is_main_process() -> bool:
    """True except on the non-zero ranks of a torchrun job (which must not write files)."""
    return int(os.environ.get("RANK", "0")) == 0


def shutdown() -> None:
    """Leave the process group (if this process joined one), as torchrun expects before exit."""
    if dist.is_available() and dist.is_initialized():
        try:
            dist.destroy_process_group()
        except (RuntimeError, ValueError):
            pass  # a rank already gone: this one's work (the model, on rank 0) is complete and written


def device_for(device: torch.device, ctx: DistributedContext) -> torch.device:
    """Each rank's own GPU (``cuda:LOCAL_RANK``); CPU ranks share the CPU."""
    if ctx.enabled and device.type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
        return torch.device("cuda", ctx.local_rank)
    return device


def _comm_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum of ``t`` over all ranks (returned on ``t``'s device)."""
    buffer = t.detach().to(_comm_device(), dtype=torch.float64).clone()
    dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
    return buffer.to(t.device)


def all_gather_bytes(t: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's copy of a same-sized uint8 tensor (e.g. an RNG state), in rank order."""
    local = t.to(_comm_device())
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, local)
    return [p.cpu() for p in parts]


def shard_bounds(n: int, ctx: DistributedContext) -> tuple[int, int]:
    """This rank's contiguous share ``[start, stop)`` of ``n`` items (shares differ by at most one)."""
    start = n * ctx.rank // ctx.world_size
    return start, n * (ctx.rank + 1) // ctx.world_size
