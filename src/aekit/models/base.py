"""The one interface every model family implements.

A model is a torch module that knows tensors and losses, nothing about numpy,
validation or files (that is the estimator's job).  It computes one
:class:`~aekit.models.terms.ForwardPass` per batch and charges the weighted sum of its
:class:`~aekit.models.terms.LossTerm` list; the trainer only ever calls
:meth:`BaseModule.loss_terms`, passing the epoch for terms whose weight follows a
schedule (so the module holds no schedule state).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from aekit.models.terms import ForwardPass, LossTerm

Transform = Callable[[torch.Tensor], torch.Tensor]


class BaseModule(nn.Module):
    """encoder -> latent -> decoder -> loss terms.

    Subclasses implement :meth:`encode`, :meth:`decode` and :meth:`forward_pass`.
    ``corruption`` (a denoising corruption) changes what the encoder sees during
    training; ``resample`` (e.g. ``torch.bernoulli`` for dynamic binarization) redraws
    the batch itself, input and target alike, every time it is used in training.
    """

    #: Optimizer settings of the adversary's group that differ from the model's (``lr``, ``betas``).
    adversary_optimizer: dict[str, object] = {}

    def __init__(
        self, terms: Sequence[LossTerm], corruption: Transform | None = None, resample: Transform | None = None
    ):
        super().__init__()
        self.terms = nn.ModuleList(terms)
        self.corruption = corruption
        self.resample = resample
        # A second network trained against the model (a discriminator), or None.  The
        # trainer gives its parameters their own optimizer group (settings in
        # ``adversary_optimizer``) and only ``adversary_loss``'s gradient: the model's
        # loss never moves the adversary, and the adversary's never moves the model.
        # (An instance attribute: a class-level None would hide a registered submodule.)
        self.adversary: nn.Module | None = None

    @property
    def min_batch(self) -> int:
        """The fewest rows any of the terms needs in a batch."""
        return max((term.min_batch for term in self.terms), default=1)

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Deterministic code of ``x`` (the posterior mean for probabilistic models)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction in data space (the decoder's mean)."""
        raise NotImplementedError

    def forward_pass(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> ForwardPass:
        """Encode and decode the batch ``x`` (already resampled) once, for the loss terms."""
        raise NotImplementedError

    def training_inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(target, encoder input): the batch resampled and corrupted when training."""
        if self.training and self.resample is not None:
            x = self.resample(x)
        return x, (self.corruption(x) if self.training and self.corruption is not None else x)

    def reports(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Quantities derived from the terms' values for the history (e.g. the ELBO)."""
        return {}

    def diagnostics(self, p: ForwardPass) -> dict[str, torch.Tensor]:
        """Quantities of the forward pass the history reports but the objective never charges
        (a VQ-VAE's code perplexity); by name, ``(n,)`` or a scalar."""
        return {}

    def loss_terms(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, epoch: int | None = None
    ) -> dict[str, torch.Tensor]:
        """Every term's value (``(n,)`` or a scalar) by name, the reports, the diagnostics, and ``"loss"``.

        ``"loss"`` is the objective the trainer minimizes (its batch mean): the sum of
        each term's charged value times its weight at ``epoch`` (0-based; None, outside
        training, means the full weights).
        """
        p = self.forward_pass(x, condition)
        values: dict[str, torch.Tensor] = {}
        loss: torch.Tensor | None = None
        for term in self.terms:
            value = term(self, p)
            values[term.name] = value
            charged = term.weight_at(epoch) * term.charged(value, p)
            loss = charged if loss is None else loss + charged
        with torch.no_grad():
            diagnostics = self.diagnostics(p)
        return {**values, **self.reports(values), **diagnostics, "loss": loss}

    def adversary_loss(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, epoch: int | None = None
    ) -> torch.Tensor:
        """The adversary's own objective on the batch ``x`` (minimized by its optimizer group)."""
        raise NotImplementedError(f"{type(self).__name__} has no adversary")

    def reconstruct(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, condition), condition)

    def score(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample typicality, higher = more typical. Default: minus squared error."""
        return -(self.reconstruct(x, condition) - x).flatten(1).square().sum(1)
