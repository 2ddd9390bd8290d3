"""The deterministic autoencoder, with room for composable regularizers.

Regularized variants (sparse, denoising, contractive) are this same module with a
``corruption`` applied to the input during training and/or ``penalties`` added to
the loss; see :mod:`aekit.models.regularizers` and :mod:`aekit.data.corruption`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from aekit.models.base import AutoencoderModule
from aekit.nn.likelihoods import Likelihood


class Penalty(nn.Module):
    """A weighted regularization term ``weight * value(model, x, code)``.

    ``forward`` returns per-sample values ``(n,)`` or a scalar for batch-level
    penalties (e.g. a KL on the batch-mean activation).
    """

    name = "penalty"

    def __init__(self, weight: float):
        super().__init__()
        self.weight = float(weight)

    def forward(self, model: AutoEncoderModule, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class AutoEncoderModule(AutoencoderModule):
    """``code = encoder(x)``; ``reconstruction = likelihood.mean(decoder(code))``."""

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        likelihood: Likelihood,
        corruption: Callable[[torch.Tensor], torch.Tensor] | None = None,
        penalties: Sequence[Penalty] = (),
    ):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.corruption = corruption
        self.penalties = nn.ModuleList(penalties)

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.likelihood.mean(self.decoder(z))

    def loss_terms(
        self, x: torch.Tensor, condition: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        x_in = self.corruption(x) if (self.training and self.corruption is not None) else x
        code = self.encoder(x_in)
        reconstruction = self.likelihood.nll(self.decoder(code), x)
        terms = {"reconstruction": reconstruction}
        loss = reconstruction
        for penalty in self.penalties:
            value = penalty(self, x_in, code)
            terms[penalty.name] = value
            loss = loss + penalty.weight * value
        terms["loss"] = loss
        return terms
