"""The undercomplete autoencoder estimator."""

from __future__ import annotations

from torch import nn

from aekit.estimators.base import BaseAutoEncoder, estimator_params
from aekit.models.autoencoder import AutoEncoderModule
from aekit.nn.likelihoods import make_likelihood

AE_LOSSES = ("mse", "bce")


@estimator_params(loss="mse")
class AutoEncoder(BaseAutoEncoder):
    """Deterministic autoencoder: ``z = f(x)``, ``x_hat = g(z)``.

    Parameters
    ----------
    loss : {"mse", "bce"}, default="mse"
        Per-sample sum of squared errors, or binary cross-entropy (inputs in [0, 1];
        the decoder then ends in a sigmoid).

    Examples
    --------
    >>> from aekit import AutoEncoder, datasets
    >>> X, y = datasets.load_digits(return_X_y=True)
    >>> ae = AutoEncoder(latent_dim=8, epochs=5, random_state=0).fit(X)
    >>> ae.transform(X[:3]).shape
    (3, 8)
    """

    def _validate_own_params(self) -> None:
        if self.loss not in AE_LOSSES:
            raise ValueError(f"loss must be one of {AE_LOSSES}; got {self.loss!r}.")

    def _encoder_decoder(self) -> tuple[nn.Module, nn.Module]:
        """Encoder (body + linear code head) and decoder for the fitted shapes."""
        body, decoder = self._networks(self.model_shape_, self.latent_dim)
        return nn.Sequential(body, nn.Linear(body.out_features, self.latent_dim)), decoder

    def _build_module(self) -> AutoEncoderModule:
        encoder, decoder = self._encoder_decoder()
        return AutoEncoderModule(encoder, decoder, make_likelihood(self.loss, self.model_shape_))
