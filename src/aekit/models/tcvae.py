"""The total-correlation term of the beta-TCVAE (Chen et al., 2018)."""

from __future__ import annotations

import math

import torch
from torch import nn

from aekit.models.terms import ForwardPass, LossTerm


class TotalCorrelation(LossTerm):
    """Minibatch-weighted estimate of TC(z) = KL(q(z) || prod_j q(z_j)), per sample.

    q(z) is the aggregate posterior over the ``dataset_size`` training rows, estimated
    from the batch: ``log q(z_i) ~ logsumexp_j log q(z_i | x_j) - log(n N)`` (Chen et
    al., 2018, minibatch-weighted sampling), and likewise for each dimension.
    """

    name = "total_correlation"
    min_batch = 2

    def __init__(self, weight: float, dataset_size: int):
        super().__init__(weight)
        self.dataset_size = int(dataset_size)

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        z, mu, logvar = p.z.unsqueeze(1), p.code.unsqueeze(0), p.logvar.unsqueeze(0)
        log_q = -0.5 * ((z - mu).square() * torch.exp(-logvar) + logvar + math.log(2 * math.pi))  # (n, n, d)
        log_nN = math.log(p.z.shape[0] * self.dataset_size)
        log_q_joint = torch.logsumexp(log_q.sum(2), dim=1) - log_nN
        log_q_marginals = (torch.logsumexp(log_q, dim=1) - log_nN).sum(1)
        return log_q_joint - log_q_marginals
