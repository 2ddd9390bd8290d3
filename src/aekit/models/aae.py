"""The adversarial autoencoder (Makhzani et al., 2015): codes matched to a prior by a discriminator.

A discriminator ``D`` on the code space learns to tell draws of the prior N(0, I)
(label 1) from the codes the encoder gives a batch (label 0); the encoder is charged
the generator's side of the game, ``-log sigmoid(D(code))`` per sample (the
non-saturating form of Goodfellow et al., 2014, whose gradient does not vanish while
the discriminator wins), so that the aggregated posterior ``q(z) = E_x q(z|x)``
drifts to where the discriminator cannot tell it from the prior.  New samples are
decoded prior draws, as for the VAE, but each input keeps a deterministic code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aekit.models.autoencoder import AutoEncoderModule
from aekit.models.factorvae import make_discriminator
from aekit.models.terms import ForwardPass, LossTerm


class AdversarialPrior(LossTerm):
    """The generator's loss ``softplus(-D(code)) = -log sigmoid(D(code))`` per sample.

    Its batch mean is about ``log 2 = 0.69`` at the game's equilibrium, where the
    discriminator's logit is 0 everywhere.
    """

    name = "adversarial"

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        return F.softplus(-module.adversary(p.code.flatten(1)).squeeze(-1))


class AdversarialAutoEncoderModule(AutoEncoderModule):
    """An :class:`AutoEncoderModule` owning the code discriminator as its ``adversary``.

    The trainer steps the discriminator in its own optimizer group (settings
    ``discriminator_optimizer``) on :meth:`adversary_loss` only, so the encoder's
    generator term never moves it and its loss never moves the encoder.
    """

    def __init__(
        self,
        *args: Any,
        latent_dim: int,
        discriminator_hidden: Sequence[int],
        discriminator_optimizer: dict,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.adversary = make_discriminator(latent_dim, discriminator_hidden)
        self.adversary_optimizer = dict(discriminator_optimizer)

    def adversary_loss(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, epoch: int | None = None
    ) -> torch.Tensor:
        """Binary cross-entropy of telling prior draws (1) from the batch's codes (0).

        The codes are computed again without gradient (one extra encoder pass): the
        discriminator's loss must not move the encoder.
        """
        with torch.no_grad():
            _, x_in = self.training_inputs(x)
            code = self.encoder(x_in).flatten(1)
        prior, encoded = self.adversary(torch.randn_like(code)).squeeze(-1), self.adversary(code).squeeze(-1)
        return 0.5 * (
            F.binary_cross_entropy_with_logits(prior, torch.ones_like(prior))
            + F.binary_cross_entropy_with_logits(encoded, torch.zeros_like(encoded))
        )
