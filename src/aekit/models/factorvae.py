"""The FactorVAE (Kim & Mnih, 2018): total correlation estimated by a discriminator.

A discriminator ``D`` learns to tell codes drawn from q(z) (the posterior draws of a
batch) from codes drawn from the product of its marginals (the same draws with each
dimension shuffled across the batch).  At its optimum its logit is
``log D(z) / (1 - D(z)) = log q(z) / prod_j q(z_j)``, whose mean over q(z) is the total
correlation TC(z) = KL(q(z) || prod_j q(z_j)); the VAE is charged ``gamma`` times it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aekit.models.terms import ForwardPass, LossTerm
from aekit.models.vae import VAEModule

#: The slope of the discriminator's leaky ReLUs, the paper's 0.2.
LEAKY_SLOPE = 0.2


def permute_dims(z: torch.Tensor) -> torch.Tensor:
    """``z`` with each column shuffled across the rows independently: draws of prod_j q(z_j)."""
    return z.gather(0, torch.rand_like(z).argsort(dim=0))


def make_discriminator(latent_dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """``Linear -> LeakyReLU(0.2)`` per hidden width, then one logit (the paper's MLP, narrower)."""
    widths = [latent_dim, *hidden]
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(n_in, n_out), nn.LeakyReLU(LEAKY_SLOPE)]
    return nn.Sequential(*layers, nn.Linear(widths[-1], 1))


class DiscriminatorTotalCorrelation(LossTerm):
    """The discriminator's logit at each posterior draw ``z``, per sample: its estimate of
    ``log q(z) - log prod_j q(z_j)``, whose batch mean estimates TC(z)."""

    name = "total_correlation"
    # The discriminator that this term reads learns from permutations within a batch.
    min_batch = 2

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        return module.adversary(p.z).squeeze(-1)


class FactorVAEModule(VAEModule):
    """A :class:`VAEModule` owning the discriminator as its ``adversary``.

    The trainer steps the discriminator in its own optimizer group (settings
    ``discriminator_optimizer``) on :meth:`adversary_loss` only, so the VAE's charge of
    the TC never moves it.
    """

    def __init__(self, *args: Any, discriminator_hidden: Sequence[int], discriminator_optimizer: dict, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.adversary = make_discriminator(self.latent_dim, discriminator_hidden)
        self.adversary_optimizer = dict(discriminator_optimizer)

    def adversary_loss(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, epoch: int | None = None
    ) -> torch.Tensor:
        """Binary cross-entropy of telling the batch's posterior draws (1) from their permutation (0).

        The draws are taken again, without gradient (one extra encoder pass): the
        discriminator's loss must not move the encoder.
        """
        with torch.no_grad():
            _, x_in = self.training_inputs(x)
            mu, logvar = self.posterior_params(x_in, condition)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        joint, product = self.adversary(z).squeeze(-1), self.adversary(permute_dims(z)).squeeze(-1)
        return 0.5 * (
            F.binary_cross_entropy_with_logits(joint, torch.ones_like(joint))
            + F.binary_cross_entropy_with_logits(product, torch.zeros_like(product))
        )
