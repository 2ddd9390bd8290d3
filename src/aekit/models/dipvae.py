"""The covariance penalty of the DIP-VAE (Kumar et al., 2018)."""

from __future__ import annotations

import torch
from torch import nn

from aekit.models.terms import ForwardPass, LossTerm

DIP_TYPES = ("i", "ii")


def dip_covariance(mu: torch.Tensor, logvar: torch.Tensor, dip_type: str) -> torch.Tensor:
    """The batch estimate of Cov[mu(x)] (type "i") or of Cov_q[z] = E[Sigma(x)] + Cov[mu(x)] (type "ii").

    Moments over the batch with divisor n, as in the paper's estimator.
    """
    centred = mu - mu.mean(0)
    covariance = centred.T @ centred / mu.shape[0]
    if dip_type == "ii":
        covariance = covariance + torch.diag(logvar.exp().mean(0))
    return covariance


class DIPCovariance(LossTerm):
    """``lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2``, a batch-level scalar.

    ``C`` is :func:`dip_covariance`: pulling it to the identity matches the moments of
    the aggregate posterior (type "ii") or of the posterior means (type "i") to those
    of the prior N(0, I), with decorrelated dimensions.  The lambdas are inside the
    value (the term's own weight stays 1), so the history reports what is charged.
    """

    name = "dip"
    min_batch = 2

    def __init__(self, lambda_od: float, lambda_d: float, dip_type: str):
        super().__init__(1.0)
        self.lambda_od, self.lambda_d, self.dip_type = float(lambda_od), float(lambda_d), dip_type

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        covariance = dip_covariance(p.code.flatten(1), p.logvar.flatten(1), self.dip_type)
        diagonal = covariance.diagonal()
        off_diagonal = covariance - torch.diag(diagonal)
        return self.lambda_od * off_diagonal.square().sum() + self.lambda_d * (diagonal - 1).square().sum()

    def extra_repr(self) -> str:
        return f"lambda_od={self.lambda_od:g}, lambda_d={self.lambda_d:g}, dip_type={self.dip_type!r}"
