"""The contractive autoencoder: a penalty on the encoder's sensitivity to its input."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.base import _check_number, estimator_params
from aekit.models.autoencoder import AutoEncoderModule
from aekit.models.regularizers import Contraction, jacobian_squared_norm
from aekit.nn.likelihoods import make_likelihood

CODE_ACTIVATIONS = ("sigmoid", "identity")


@estimator_params(loss="mse", contraction_weight=0.1, code_activation="sigmoid")
class ContractiveAutoEncoder(AutoEncoder):
    """Autoencoder penalizing ``||dh/dx||_F^2``, the encoder Jacobian's squared norm (Rifai et al., 2011).

    The penalty is exact (no random projections), averaged over each batch.  With
    ``hidden=()`` and a sigmoid code the encoder is ``h = sigmoid(W x + b)`` and the
    closed form ``sum_j (h_j (1 - h_j))^2 ||W_j||^2`` costs one forward pass.  Any
    other encoder (deeper MLPs, convolutions) gets the full Jacobian by batched
    reverse-mode autograd, about ``latent_dim`` vector-Jacobian products per sample
    and ``batch_size * latent_dim * n_features`` floats of memory per step, so
    training slows roughly in proportion to ``latent_dim``.

    Parameters
    ----------
    contraction_weight : float, default=0.1
        Weight of the penalty relative to the per-sample reconstruction loss.
    code_activation : {"sigmoid", "identity"}, default="sigmoid"
        Nonlinearity applied to the code (the classic contractive autoencoder uses
        a sigmoid code, which saturates to contract).
    loss : {"mse", "bce"}, default="mse"
        As for :class:`aekit.AutoEncoder`.

    Examples
    --------
    >>> from aekit import ContractiveAutoEncoder, datasets
    >>> X, y = datasets.load_digits(images=False)
    >>> cae = ContractiveAutoEncoder(hidden=(), latent_dim=32, epochs=5, random_state=0).fit(X)
    >>> cae.jacobian_norm(X[:3]).shape
    (3,)
    """

    def _validate_own_params(self) -> None:
        super()._validate_own_params()
        _check_number("contraction_weight", self.contraction_weight, 0.0, float("inf"))
        if self.code_activation not in CODE_ACTIVATIONS:
            raise ValueError(f"code_activation must be one of {CODE_ACTIVATIONS}; got {self.code_activation!r}.")

    def _build_module(self) -> AutoEncoderModule:
        encoder, decoder = self._encoder_decoder()
        if self.code_activation == "sigmoid":
            encoder = nn.Sequential(encoder, nn.Sigmoid())
        return AutoEncoderModule(
            encoder,
            decoder,
            make_likelihood(self.loss, self.model_shape_),
            # Weight 0 is the same network unpenalized: skip the Jacobian, the costly part.
            penalties=[Contraction(self.contraction_weight)] if self.contraction_weight > 0 else [],
        )

    def jacobian_norm(self, X: Any) -> np.ndarray:
        """Squared Frobenius norm of the encoder's Jacobian at each sample, shape (n,)."""
        X = self._validate_X(X, reset=False)
        x = self._to_tensor(X)
        with torch.no_grad():
            parts = [
                jacobian_squared_norm(self.module_.encoder, x[start : start + 256]).cpu()
                for start in range(0, x.shape[0], 256)
            ]
        return torch.cat(parts).numpy().astype(np.float64)
