"""The undercomplete autoencoder estimator."""

from __future__ import annotations

from typing import Any

from torch import nn

from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.params import Choice, Param
from aekit.models.autoencoder import AutoEncoderModule


class AutoEncoder(BaseAutoEncoder):
    """Deterministic autoencoder: ``z = f(x)``, ``x_hat = g(z)``.

    Examples
    --------
    >>> from aekit import AutoEncoder, datasets
    >>> X, y = datasets.load_digits()
    >>> ae = AutoEncoder(latent_dim=8, epochs=5, random_state=0).fit(X)
    >>> ae.transform(X[:3]).shape
    (3, 8)
    """

    _params = {
        "loss": Param(
            "mse",
            Choice("mse", "bce"),
            "Per-sample sum of squared errors, or binary cross-entropy (inputs in [0, 1]; the decoder then "
            "ends in a sigmoid).",
        )
    }
    _module_cls = AutoEncoderModule
    cli_name = "ae"
    tour_rank = 1

    @classmethod
    def tour_params(cls, latent_dim: int, unit_range: bool) -> dict[str, Any]:
        return {"latent_dim": latent_dim, "loss": "bce" if unit_range else "mse"}

    def _code_activation(self) -> nn.Module | None:
        """A nonlinearity on the code (sparse and contractive codes), or None for a linear code."""
        return None

    def _module_parts(self) -> dict[str, Any]:
        body, decoder = self._networks(self.model_shape_, self.latent_dim_)
        encoder = nn.Sequential(body, nn.Linear(body.out_features, self.latent_dim_))
        activation = self._code_activation()
        if activation is not None:
            encoder = nn.Sequential(encoder, activation)
        return {"encoder": encoder, "decoder": decoder, "likelihood": self._likelihood(self.loss)}
