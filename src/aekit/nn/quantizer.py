"""Vector quantization (van den Oord et al., 2017): a codebook of ``K`` vectors of ``D`` dimensions.

Each code vector an encoder gives is replaced by its nearest codebook entry; the
decoder sees that entry, and the encoder gets the decoder's gradient unchanged
(the straight-through estimator).  The codebook learns either from its own loss term
(``update="loss"``: ``||sg[z_e] - e||^2``, see :mod:`aekit.models.vqvae`) or as an
exponential moving average of the vectors assigned to each entry (``update="ema"``,
the paper's appendix A.1): then it is no parameter but buffers, which the model file
and a training checkpoint keep like weights.

A code unused for ``restart_unused_after`` training steps in a row is dead weight; it
is restarted at a random encoder output of the current batch, drawn from torch's
generator, which the trainer seeds and checkpoints, so a resumed run draws the same.
The codebook, the moving averages and the counters only change on a training step:
in training mode with gradients on.  (The trainer's after-epoch check of the last
update runs a training-mode forward pass under ``no_grad``; it must not move them.)

Under torchrun the usage counts and the sums of the moving average are summed over
the ranks and restarts are drawn on rank 0 and broadcast, so every rank keeps the
same codebook.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

CODEBOOK_UPDATES = ("ema", "loss")
#: The moving average's Laplace smoothing of the counts (the paper's reference code, Sonnet, uses 1e-5).
EMA_EPSILON = 1e-5


class Quantization(NamedTuple):
    """One batch quantized: ``quantized`` the nearest entries (carrying the codebook's gradient when it
    learns by a loss), ``straight_through`` the same values with the gradient going to the encoder's
    output instead, ``indices`` the entries' numbers, shape (n, positions)."""

    quantized: torch.Tensor
    straight_through: torch.Tensor
    indices: torch.Tensor


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _sum_over_ranks(t: torch.Tensor) -> torch.Tensor:
    if _distributed():
        torch.distributed.all_reduce(t)
    return t


def code_perplexity(indices: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """``exp`` of the entropy of the entries' usage in ``indices``: the number of equally used entries
    that would give that entropy (1 when one entry takes every vector, ``K`` when all share equally)."""
    counts = torch.bincount(indices.reshape(-1), minlength=codebook_size).to(torch.float32)
    p = counts / counts.sum().clamp(min=1)
    return torch.exp(-(p * torch.log(p.clamp(min=1e-12))).sum())


class VectorQuantizer(nn.Module):
    """Nearest-entry lookup in a ``codebook_size`` x ``code_dim`` codebook, on vectors shaped (n, positions, code_dim).

    Parameters
    ----------
    codebook_size, code_dim : int
        ``K`` entries of ``D`` dimensions.
    update : {"ema", "loss"}
        How the codebook learns: a moving average of its assigned vectors (buffers ``codebook``,
        ``cluster_size``, ``embedding_sum``), or gradient steps on the codebook loss (``codebook`` is a
        parameter).
    decay : float
        The moving average's decay ``gamma`` (the paper: 0.99).
    restart_unused_after : int
        Training steps an entry may go unassigned before it is restarted at an encoder output of the
        current batch; 0 never restarts.  The counters start full, so the first training step
        initialises every entry from the first batch's encoder outputs (an initialisation on the
        data's scale, instead of the small uniform one, which few encoder outputs would pick).
    """

    def __init__(
        self,
        codebook_size: int,
        code_dim: int,
        update: str = "ema",
        decay: float = 0.99,
        restart_unused_after: int = 0,
    ):
        super().__init__()
        if update not in CODEBOOK_UPDATES:
            raise ValueError(f"update must be one of {list(CODEBOOK_UPDATES)}; got {update!r}.")
        self.codebook_size, self.code_dim, self.update = int(codebook_size), int(code_dim), update
        self.decay, self.restart_unused_after = float(decay), int(restart_unused_after)
        # The reference implementation's initialisation, uniform in +-1/K.
        initial = torch.empty(self.codebook_size, self.code_dim).uniform_(-1.0 / self.codebook_size, 1.0 / self.codebook_size)
        if update == "loss":
            self.codebook = nn.Parameter(initial)
        else:
            self.register_buffer("codebook", initial)
            # Each entry starts as if it had been assigned one vector, itself: the first averages are
            # then no division by a near-zero count (Sonnet corrects that bias by debiasing instead).
            self.register_buffer("cluster_size", torch.ones(self.codebook_size))
            self.register_buffer("embedding_sum", initial.clone())
        if self.restart_unused_after > 0:
            self.register_buffer(
                "steps_unused", torch.full((self.codebook_size,), self.restart_unused_after, dtype=torch.long)
            )

    def extra_repr(self) -> str:
        return (
            f"codebook_size={self.codebook_size}, code_dim={self.code_dim}, update={self.update!r}"
            + (f", decay={self.decay:g}" if self.update == "ema" else "")
            + f", restart_unused_after={self.restart_unused_after}"
        )

    # ------------------------------------------------------------------ lookup
    def nearest(self, vectors: torch.Tensor) -> torch.Tensor:
        """The index of the nearest entry (squared Euclidean distance; ties: the lower index), shape ``vectors.shape[:-1]``."""
        flat = vectors.detach().reshape(-1, self.code_dim)
        codebook = self.codebook.detach()
        # ||z||^2 is the same for every entry: only -2 z.e + ||e||^2 decides the nearest.
        distances = codebook.square().sum(1) - 2.0 * flat @ codebook.T
        return distances.argmin(1).reshape(vectors.shape[:-1])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """The entries numbered ``indices``, shape ``(*indices.shape, code_dim)``."""
        return self.codebook[indices]

    # ------------------------------------------------------------------ training
    def forward(self, vectors: torch.Tensor) -> Quantization:
        """Quantize ``vectors`` (n, positions, code_dim); on a training step also learn from them."""
        learning = self.training and torch.is_grad_enabled()
        flat = vectors.detach().reshape(-1, self.code_dim)
        if learning and self.restart_unused_after > 0:
            self._restart_unused(flat)
        indices = self.nearest(vectors)
        quantized = self.lookup(indices)  # gathered before the moving average moves the codebook
        if learning:
            counts, one_hot = self._assignment_counts(indices.reshape(-1))
            if self.update == "ema":
                self._moving_average_step(flat, counts, one_hot)
            if self.restart_unused_after > 0:
                self.steps_unused.copy_(torch.where(counts > 0, 0, self.steps_unused + 1))
        straight_through = vectors + (quantized - vectors).detach()
        return Quantization(quantized, straight_through, indices)

    def _assignment_counts(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(vectors assigned to each entry, summed over ranks; the one-hot assignments (N, K) of this rank)."""
        one_hot = torch.nn.functional.one_hot(indices, self.codebook_size).to(torch.float32)
        return _sum_over_ranks(one_hot.sum(0)), one_hot

    @torch.no_grad()
    def _moving_average_step(self, flat: torch.Tensor, counts: torch.Tensor, one_hot: torch.Tensor) -> None:
        """``N_k <- g N_k + (1-g) n_k``, ``m_k <- g m_k + (1-g) sum of z assigned to k``, ``e_k = m_k / N_k``,
        with ``N_k`` Laplace-smoothed (``(N_k + eps) / (N + K eps) * N``) so no entry divides by zero."""
        # A one-hot product, not index_add_: the same sums in the same order on every device (CUDA's
        # index_add_ adds with atomics, in no fixed order).
        sums = _sum_over_ranks(one_hot.T @ flat.to(torch.float32))
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1.0 - self.decay)
        self.embedding_sum.mul_(self.decay).add_(sums, alpha=1.0 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + EMA_EPSILON) / (total + self.codebook_size * EMA_EPSILON) * total
        self.codebook.copy_(self.embedding_sum / smoothed.unsqueeze(1))

    @torch.no_grad()
    def _restart_unused(self, flat: torch.Tensor) -> None:
        """Move each entry unassigned for ``restart_unused_after`` steps to a random vector of ``flat``."""
        dead = torch.nonzero(self.steps_unused >= self.restart_unused_after).squeeze(1)
        if dead.numel() == 0:
            return
        replacements = flat[torch.randint(flat.shape[0], (dead.numel(),), device=flat.device)].to(self.codebook.dtype)
        if _distributed():  # rank 0's draw for every rank (the counters agree, so every rank restarts the same entries)
            torch.distributed.broadcast(replacements, src=0)
        self.codebook[dead] = replacements
        if self.update == "ema":  # the entry's average starts again, as one vector assigned to it
            self.cluster_size[dead] = 1.0
            self.embedding_sum[dead] = replacements
        self.steps_unused[dead] = 0


# ---------------------------------------------------------------------------- code-vector layouts
class GridToVectors(nn.Module):
    """A grid of code vectors (n, D, h, w) as (n, h * w, D): one position per grid cell, in raster order."""

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return grid.flatten(2).transpose(1, 2)


class VectorsToGrid(nn.Module):
    """Flat codes (n, h * w * D), position by position as :class:`GridToVectors` orders them, as a grid (n, D, h, w)."""

    def __init__(self, grid: tuple[int, int], code_dim: int):
        super().__init__()
        self.grid, self.code_dim = tuple(grid), int(code_dim)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return codes.reshape(codes.shape[0], *self.grid, self.code_dim).permute(0, 3, 1, 2)
