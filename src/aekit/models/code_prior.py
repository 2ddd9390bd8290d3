"""An autoregressive prior over a discrete code: ``p(k_1 .. k_P) = prod_t p(k_t | k_<t)``.

A VQ-VAE's code is ``P`` entry numbers (positions in raster order for a grid); new
samples need a distribution over such sequences, fitted after the autoencoder on the
codes of its training data (the paper fits a PixelCNN over the grid).  Here a
one-layer GRU reads the sequence, a start symbol first, and predicts each position's
entry from the ones before it: small (about 0.2 M parameters for 512 entries) and
quick on a CPU for the short sequences of small images (4 positions for the digits'
2x2 grid, 49 for MNIST's 7x7).  On large grids a PixelCNN, which sees the rows
above as well as the cells before, would model the image better.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aekit.models.base import BaseModule
from aekit.models.terms import ForwardPass, LossTerm


class AutoregressiveCodePrior(nn.Module):
    """A GRU over entry numbers (n, positions) with learned entry and position embeddings."""

    def __init__(self, codebook_size: int, n_positions: int, embedding_dim: int = 64, hidden: int = 128):
        super().__init__()
        self.codebook_size, self.n_positions = int(codebook_size), int(n_positions)
        self.entries = nn.Embedding(self.codebook_size + 1, embedding_dim)  # the last one: the start symbol
        self.positions = nn.Embedding(self.n_positions, embedding_dim)
        self.gru = nn.GRU(embedding_dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, self.codebook_size)

    def _inputs(self, previous: torch.Tensor, start: int) -> torch.Tensor:
        """Embeddings of the entries ``previous`` seen at positions ``start, start + 1, ...``."""
        steps = torch.arange(start, start + previous.shape[1], device=previous.device)
        return self.entries(previous) + self.positions(steps)

    def logits(self, indices: torch.Tensor) -> torch.Tensor:
        """Logits of ``p(k_t | k_<t)`` for every position, (n, positions, codebook_size)."""
        start = torch.full((indices.shape[0], 1), self.codebook_size, dtype=torch.long, device=indices.device)
        hidden, _ = self.gru(self._inputs(torch.cat([start, indices[:, :-1]], 1), 0))
        return self.head(hidden)

    def log_prob(self, indices: torch.Tensor) -> torch.Tensor:
        """``log p(k_1 .. k_P)`` per sample, in nats, (n,)."""
        return -F.cross_entropy(self.logits(indices).transpose(1, 2), indices, reduction="none").sum(1)

    @torch.no_grad()
    def sample(self, uniforms: torch.Tensor) -> torch.Tensor:
        """Entry numbers (n, positions) drawn one position at a time, each by inverting its conditional's
        distribution function at the given ``uniforms`` (n, positions) in [0, 1): the draw is a function of
        those numbers alone, so a numpy seed reproduces it on any torch."""
        n = uniforms.shape[0]
        previous = torch.full((n, 1), self.codebook_size, dtype=torch.long, device=uniforms.device)
        state, drawn = None, []
        for t in range(self.n_positions):
            output, state = self.gru(self._inputs(previous, t), state)
            cumulative = torch.softmax(self.head(output[:, -1]), dim=-1).cumsum(-1)
            threshold = uniforms[:, t : t + 1] * cumulative[:, -1:]
            previous = torch.searchsorted(cumulative, threshold, right=True).clamp(max=self.codebook_size - 1)
            drawn.append(previous)
        return torch.cat(drawn, 1)


class CodeNegativeLogLikelihood(LossTerm):
    """``-log p(k_1 .. k_P)`` per sample from the prior's logits (``out``) and the entries (``x``)."""

    name = "nll"

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        return F.cross_entropy(p.out.transpose(1, 2), p.x, reduction="none").sum(1)


class CodePriorModule(BaseModule):
    """An :class:`AutoregressiveCodePrior` behind the model interface, so aekit's trainer fits it
    (batches of entry numbers, early stopping on held-out codes) like any model."""

    def __init__(self, prior: AutoregressiveCodePrior, terms: Sequence[LossTerm] | None = None):
        super().__init__([CodeNegativeLogLikelihood()] if terms is None else terms)
        self.prior = prior

    def forward_pass(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> ForwardPass:
        logits = self.prior.logits(x)
        return ForwardPass(x=x, x_in=x, code=x, z=x, out=logits, condition=condition)
