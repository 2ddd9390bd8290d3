"""The beta-TCVAE estimator: a VAE whose codes are pushed towards independent dimensions."""

from __future__ import annotations

from aekit.estimators.params import Param, Real
from aekit.estimators.vae import VAE
from aekit.models.tcvae import TotalCorrelation
from aekit.models.terms import LossTerm


class BetaTCVAE(VAE):
    """VAE with the total correlation of its codes weighted apart from the rest of the KL (Chen et al., 2018).

    The KL splits into index-code mutual information, total correlation and the
    dimension-wise KL; the total correlation (dependence between code dimensions)
    gets ``tc_weight``, the rest keeps ``beta``.
    """

    _params = {
        "tc_weight": Param(6.0, Real(), "Weight of the total correlation (the paper's beta; 6 on dSprites, 1 is the VAE).")
    }
    _adds_elbo_terms = True
    _gaussian_posterior_terms = True
    cli_name = "betatcvae"

    def _loss_terms(self) -> list[LossTerm]:
        # GaussianKL already charges the total correlation beta times: add the difference.
        return [*super()._loss_terms(), TotalCorrelation(self.tc_weight - self.beta, self.n_train_samples_)]
