"""The Wasserstein autoencoder estimator (WAE-MMD): a deterministic code matched to a prior."""

from __future__ import annotations

from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.params import Param, Real
from aekit.models.terms import LossTerm
from aekit.models.wae import MMDToPrior


class WassersteinAutoEncoder(AutoEncoder):
    """Autoencoder whose codes, as a whole, are pulled towards N(0, I) by an MMD penalty (Tolstikhin et al., 2018).

    Unlike the VAE's per-sample KL, the penalty acts on the distribution of the codes
    of a batch, so each input keeps a deterministic code; ``sample`` decodes prior draws.
    """

    _params = {"mmd_weight": Param(10.0, Real(), "Weight of the MMD to the prior (the paper's lambda; 10 on MNIST).")}
    _samples_from_prior = True
    cli_name = "wae"

    def _loss_terms(self) -> list[LossTerm]:
        return [*super()._loss_terms(), MMDToPrior(self.mmd_weight)]
