"""Torch state that aekit sets for its own work and gives back: devices, seeded RNGs, denormal flushing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state


def resolve_device(device: str) -> torch.device:
    """``"auto"`` (CUDA when available, else CPU) or any torch device name, refused with advice if absent."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a torch device; use 'auto', 'cpu' or 'cuda'.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but no CUDA device is available; use device='auto' or 'cpu'.")
    return resolved


def draw_seed(random_state: Any) -> int:
    """An int seed for torch drawn from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def torch_seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run with torch's RNG seeded, restoring the caller's RNG state afterwards."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def flushes_denormals() -> bool:
    """Whether the calling thread currently flushes denormal floats to zero."""
    return torch.tensor([1e-40]).mul(1.0).item() == 0.0


_worker_pool_started_by_aekit = False


@contextlib.contextmanager
def denormals_flushed() -> Iterator[None]:
    """Flush denormals to zero while aekit trains on the CPU, then give the caller's setting back.

    ``torch.set_flush_denormal`` sets only the calling thread's FTZ/DAZ flags; torch's
    intra-op (OpenMP) worker threads copy them once, when they are created at the
    first parallel operation.  Created without them, the worker half of a 2-thread
    training step slows down as Adam's second moments turn denormal (measured: MLP VAE
    epochs drift from 1.9 s to 2.7 s on MNIST; created with them they stay at 1.9 s).
    So the first ``fit`` in a process that has not yet run a parallel operation starts
    the pool under the flags (a process whose own code started the pool first keeps
    its workers as they are).  Nothing of this happens at import: a process that never
    trains keeps torch's numerics untouched, and the calling thread's flag is restored
    on exit.  The workers a first fit started keep flushing (a thread's flags cannot be
    set from outside it).
    """
    global _worker_pool_started_by_aekit
    was_flushing = flushes_denormals()
    if not torch.set_flush_denormal(True):
        yield  # this CPU has no FTZ/DAZ
        return
    if not _worker_pool_started_by_aekit:
        _worker_pool_started_by_aekit = True
        torch.ones(1 << 20).add_(1)  # large enough to run in parallel, so the pool starts now if it has not
    try:
        yield
    finally:
        torch.set_flush_denormal(was_flushing)
