"""The sparse autoencoder: a penalty on the code's activity."""

from __future__ import annotations

from torch import nn

from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.base import _check_number, estimator_params
from aekit.models.autoencoder import AutoEncoderModule
from aekit.models.regularizers import KLSparsity, L1Activity
from aekit.nn.likelihoods import make_likelihood

SPARSITY_PENALTIES = ("kl", "l1")


@estimator_params(loss="mse", penalty="kl", sparsity_target=0.05, sparsity_weight=1.0)
class SparseAutoEncoder(AutoEncoder):
    """Autoencoder whose code units are mostly inactive; over-complete codes work.

    Parameters
    ----------
    penalty : {"kl", "l1"}, default="kl"
        "kl": the code is a sigmoid in (0, 1) and each unit's mean activation over a
        batch is pulled towards ``sparsity_target`` by
        ``sum_j KL(sparsity_target || mean activation_j)`` (Ng's sparse autoencoder).
        "l1": the code is a ReLU (non-negative, exactly zero when inactive) and the
        loss adds ``sum_j |h_j|`` per sample.
    sparsity_target : float, default=0.05
        Target mean activation in (0, 1) for penalty="kl" (ignored for "l1").
    sparsity_weight : float, default=1.0
        Weight of the penalty relative to the per-sample reconstruction loss (which
        is summed over features, so larger inputs may need a larger weight).
    loss : {"mse", "bce"}, default="mse"
        As for :class:`aekit.AutoEncoder`.

    Examples
    --------
    >>> from aekit import SparseAutoEncoder, datasets
    >>> X, y = datasets.load_digits(images=False)
    >>> sae = SparseAutoEncoder(latent_dim=128, epochs=5, random_state=0).fit(X)
    >>> sae.transform(X[:2]).shape
    (2, 128)
    """

    def _validate_own_params(self) -> None:
        super()._validate_own_params()
        if self.penalty not in SPARSITY_PENALTIES:
            raise ValueError(f"penalty must be one of {SPARSITY_PENALTIES}; got {self.penalty!r}.")
        _check_number("sparsity_target", self.sparsity_target, 0.0, 1.0, low_open=True)
        if self.sparsity_target >= 1.0:
            raise ValueError(f"sparsity_target must be below 1 (a mean activation); got {self.sparsity_target!r}.")
        _check_number("sparsity_weight", self.sparsity_weight, 0.0, float("inf"))

    def _build_module(self) -> AutoEncoderModule:
        encoder, decoder = self._encoder_decoder()
        if self.penalty == "kl":
            code_activation, penalty = nn.Sigmoid(), KLSparsity(self.sparsity_weight, self.sparsity_target)
        else:
            code_activation, penalty = nn.ReLU(), L1Activity(self.sparsity_weight)
        return AutoEncoderModule(
            nn.Sequential(encoder, code_activation),
            decoder,
            make_likelihood(self.loss, self.model_shape_),
            penalties=[penalty],
        )
