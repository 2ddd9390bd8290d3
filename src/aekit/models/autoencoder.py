"""The deterministic autoencoder; its regularized relatives are the same module with other terms.

Sparse, denoising and contractive autoencoders differ from it only by a
:class:`~aekit.models.terms.LossTerm` (see :mod:`aekit.models.terms`) or by a
corruption of the encoder's input (see :mod:`aekit.data.corruption`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aekit.models.base import BaseModule, Transform
from aekit.models.terms import ForwardPass, LossTerm
from aekit.nn.likelihoods import Likelihood


class AutoEncoderModule(BaseModule):
    """``code = encoder(x)``; ``reconstruction = likelihood.mean(decoder(code))``."""

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        likelihood: Likelihood,
        terms: Sequence[LossTerm],
        corruption: Transform | None = None,
        resample: Transform | None = None,
    ):
        super().__init__(terms, corruption, resample)
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.likelihood.mean(self.decoder(z))

    def forward_pass(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> ForwardPass:
        x, x_in = self.training_inputs(x)
        code = self.encoder(x_in)
        return ForwardPass(x=x, x_in=x_in, code=code, z=code, out=self.decoder(code), condition=condition)
