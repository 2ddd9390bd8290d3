"""The sparse autoencoder: a penalty on the code's activity."""

from __future__ import annotations

from typing import Any

from torch import nn

from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.params import Choice, Param, Real
from aekit.models.terms import KLSparsity, L1Activity, LossTerm


class SparseAutoEncoder(AutoEncoder):
    """Autoencoder whose code units are mostly inactive; over-complete codes work.

    Examples
    --------
    >>> from aekit import SparseAutoEncoder, datasets
    >>> X, y = datasets.load_digits(images=False)
    >>> sae = SparseAutoEncoder(latent_dim=128, epochs=5, random_state=0).fit(X)
    >>> sae.transform(X[:2]).shape
    (2, 128)
    """

    _wide_codes_regularized = True
    _params = {
        "penalty": Param(
            "kl",
            Choice("kl", "l1"),
            '"kl": the code is a sigmoid in (0, 1) and each unit\'s mean activation over a batch is pulled '
            "towards sparsity_target by sum_j KL(sparsity_target || mean activation_j) (Ng's sparse "
            'autoencoder). "l1": the code is a ReLU (non-negative, exactly zero when inactive) and the loss '
            "adds sum_j |h_j| per sample.",
        ),
        "sparsity_target": Param(
            0.05, Real(0.0, 1.0, low_open=True, high_open=True), 'Target mean activation for penalty="kl".'
        ),
        "sparsity_weight": Param(
            1.0,
            Real(),
            "Weight of the penalty relative to the per-sample reconstruction loss (which is summed over "
            "features, so larger inputs may need a larger weight).",
        ),
    }
    cli_name = "sparse"
    tour_rank = 3

    @classmethod
    def tour_params(cls, latent_dim: int, unit_range: bool) -> dict[str, Any]:
        # Sparse codes are meant to be over-complete.
        return {**super().tour_params(latent_dim, unit_range), "latent_dim": 4 * latent_dim}

    def _code_activation(self) -> nn.Module:
        return nn.Sigmoid() if self.penalty == "kl" else nn.ReLU()

    def _loss_terms(self) -> list[LossTerm]:
        if self.penalty == "kl":
            return [*super()._loss_terms(), KLSparsity(self.sparsity_weight, self.sparsity_target)]
        return [*super()._loss_terms(), L1Activity(self.sparsity_weight)]
