"""The denoising autoencoder: reconstruct the clean input from a corrupted one."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aekit.data.corruption import NOISE_KINDS, make_corruption
from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.base import _check_number, estimator_params
from aekit.models.autoencoder import AutoEncoderModule
from aekit.nn.likelihoods import make_likelihood
from aekit.train.sources import MappedArray


@estimator_params(loss="mse", noise="gaussian", noise_level=0.3, clip=True)
class DenoisingAutoEncoder(AutoEncoder):
    """Autoencoder trained to undo a fresh random corruption of its input at every step.

    Parameters
    ----------
    noise : {"gaussian", "masking", "salt_pepper"}, default="gaussian"
        "gaussian" adds N(0, noise_level^2) noise; "masking" zeroes each value with
        probability ``noise_level``; "salt_pepper" sets each value with probability
        ``noise_level`` to the training minimum or maximum.
    noise_level : float, default=0.3
        Standard deviation (gaussian) or fraction of corrupted values (others, < 1).
    clip : bool, default=True
        Clip gaussian-corrupted inputs to the training data's range
        ``[data_min_, data_max_]`` (right for bounded data such as pixels); set False
        for unbounded data.
    loss : {"mse", "bce"}, default="mse"
        As for :class:`aekit.AutoEncoder`.

    Attributes
    ----------
    data_min_, data_max_ : float
        Smallest and largest training value (the clipping range and the salt and
        pepper values).

    Examples
    --------
    >>> from aekit import DenoisingAutoEncoder, datasets
    >>> X, y = datasets.load_digits(images=False)
    >>> dae = DenoisingAutoEncoder(noise="masking", noise_level=0.3, epochs=5, random_state=0).fit(X)
    >>> dae.denoise(X[:2]).shape
    (2, 64)
    """

    def _validate_own_params(self) -> None:
        super()._validate_own_params()
        if self.noise not in NOISE_KINDS:
            raise ValueError(f"noise must be one of {NOISE_KINDS}; got {self.noise!r}.")
        if self.noise == "gaussian":
            _check_number("noise_level", self.noise_level, 0.0, float("inf"))
        else:
            _check_number("noise_level", self.noise_level, 0.0, 1.0)
            if self.noise_level >= 1.0:
                raise ValueError(f"noise_level is a fraction for noise={self.noise!r}; it must be below 1, got 1.")
        if not isinstance(self.clip, (bool, np.bool_)):
            raise ValueError(f"clip must be True or False; got {self.clip!r}.")

    def _prepare_fit(self, X: np.ndarray | MappedArray, y: Any) -> None:
        # A memory-mapped input is scanned chunk by chunk, never loaded whole.
        blocks = (block for _, block in X.chunks()) if isinstance(X, MappedArray) else (X,)
        self.data_min_, self.data_max_ = math.inf, -math.inf
        for block in blocks:
            self.data_min_ = min(self.data_min_, float(block.min()))
            self.data_max_ = max(self.data_max_, float(block.max()))

    def _build_module(self) -> AutoEncoderModule:
        encoder, decoder = self._encoder_decoder()
        bounded = self.clip or self.noise == "salt_pepper"
        corruption = make_corruption(
            self.noise,
            float(self.noise_level),
            self.data_min_ if bounded else None,
            self.data_max_ if bounded else None,
        )
        return AutoEncoderModule(encoder, decoder, make_likelihood(self.loss, self.model_shape_), corruption=corruption)

    def denoise(self, X: Any) -> np.ndarray:
        """Clean estimate of corrupted ``X``: the reconstruction, which the model was trained to make clean."""
        return self.reconstruct(X)
