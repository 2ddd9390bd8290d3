"""The denoising autoencoder: reconstruct the clean input from a corrupted one."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from aekit.data.corruption import NOISE_KINDS, make_corruption
from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.params import Choice, Flag, Param, Real
from aekit.train.sources import MappedArray


class DenoisingAutoEncoder(AutoEncoder):
    """Autoencoder trained to undo a fresh random corruption of its input at every step.

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

    _wide_codes_regularized = True
    _params = {
        "noise": Param(
            "gaussian",
            Choice(*NOISE_KINDS),
            '"gaussian" adds N(0, noise_level^2) noise; "masking" zeroes each value with probability '
            'noise_level; "salt_pepper" sets each value with probability noise_level to the training minimum '
            "or maximum.",
        ),
        "noise_level": Param(0.3, Real(), "Standard deviation (gaussian) or fraction of corrupted values (others, < 1)."),
        "clip": Param(
            True,
            Flag(),
            "Clip gaussian-corrupted inputs to the training data's range [data_min_, data_max_] (right for "
            "bounded data such as pixels); set False for unbounded data.",
        ),
    }
    cli_name = "denoising"
    tour_rank = 2

    def _validate_own_params(self) -> None:
        if self.noise != "gaussian" and self.noise_level >= 1.0:
            raise ValueError(
                f"noise_level is a fraction for noise={self.noise!r}; it must be below 1, got {self.noise_level!r}."
            )

    def _prepare_fit(self, X: np.ndarray | MappedArray, y: Any) -> None:
        # A memory-mapped input is scanned chunk by chunk, never loaded whole.
        blocks = (block for _, block in X.chunks()) if isinstance(X, MappedArray) else (X,)
        self.data_min_, self.data_max_ = math.inf, -math.inf
        for block in blocks:
            self.data_min_ = min(self.data_min_, float(block.min()))
            self.data_max_ = max(self.data_max_, float(block.max()))

    def _corruption(self) -> Callable[[torch.Tensor], torch.Tensor]:
        bounded = self.clip or self.noise == "salt_pepper"
        return make_corruption(
            self.noise,
            float(self.noise_level),
            self.data_min_ if bounded else None,
            self.data_max_ if bounded else None,
        )

    def denoise(self, X: Any) -> np.ndarray:
        """Clean estimate of corrupted ``X``: the reconstruction, which the model was trained to make clean."""
        return self.reconstruct(X)
