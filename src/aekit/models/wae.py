"""The MMD term of the Wasserstein autoencoder (Tolstikhin et al., 2018)."""

from __future__ import annotations

import torch
from torch import nn

from aekit.models.terms import ForwardPass, LossTerm


def _inverse_multiquadratic(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    squared_distances = (a.square().sum(1, keepdim=True) + b.square().sum(1) - 2 * a @ b.T).clamp(min=0)
    return scale / (scale + squared_distances)


class MMDToPrior(LossTerm):
    """Unbiased MMD between the batch's codes and as many N(0, I) draws, a batch-level scalar.

    Inverse multiquadratic kernel ``C / (C + ||a - b||^2)`` with ``C = 2 * latent_dim``,
    the paper's choice for a unit-variance prior.
    """

    name = "mmd"
    min_batch = 2

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        code = p.code.flatten(1)
        prior = torch.randn_like(code)
        n, scale = code.shape[0], 2.0 * code.shape[1]
        off_diagonal = 1 - torch.eye(n, device=code.device, dtype=code.dtype)
        within = (_inverse_multiquadratic(code, code, scale) + _inverse_multiquadratic(prior, prior, scale))
        return (within * off_diagonal).sum() / (n * (n - 1)) - 2 * _inverse_multiquadratic(code, prior, scale).mean()
