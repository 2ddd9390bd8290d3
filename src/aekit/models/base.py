"""The one interface every model family implements.

A model is a torch module that knows tensors and losses, nothing about numpy,
validation or files (that is the estimator's job).  The trainer only ever calls
:meth:`AutoencoderModule.loss_terms` and :meth:`AutoencoderModule.begin_epoch`.
"""

from __future__ import annotations

import torch
from torch import nn


class AutoencoderModule(nn.Module):
    """encoder -> latent -> decoder -> loss terms.

    Subclasses implement :meth:`encode`, :meth:`decode` and :meth:`loss_terms`.
    """

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Deterministic code of ``x`` (the posterior mean for probabilistic models)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction in data space (the decoder's mean)."""
        raise NotImplementedError

    def loss_terms(
        self, x: torch.Tensor, condition: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Per-sample loss terms, each of shape ``(n,)`` or a scalar.

        The entry ``"loss"`` is the objective the trainer minimizes (its batch mean);
        the others are reported in the training history.
        """
        raise NotImplementedError

    def begin_epoch(self, epoch: int) -> None:
        """Hook for schedules that depend on the epoch (e.g. KL warm-up). 0-based."""

    def reconstruct(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, condition), condition)

    def score(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample typicality, higher = more typical. Default: minus squared error."""
        return -(self.reconstruct(x, condition) - x).flatten(1).square().sum(1)
