"""The VAE-GAN (Larsen et al., 2016): a VAE whose reconstructions are judged by a discriminator's features.

A discriminator ``D`` on data space learns to tell real inputs (label 1) from the
VAE's reconstructions and from decoded prior draws (label 0).  The VAE is charged,
beside its ELBO terms:

* :class:`DiscriminatorFeatureReconstruction` ("Dis_l"): ``0.5 * ||D_l(x) -
  D_l(x_hat)||^2``, minus the log-likelihood of the input's features under a unit
  Gaussian centred on the reconstruction's, with ``D_l`` the discriminator's last
  hidden layer: a reconstruction metric learned to see what tells real data apart;
* :class:`GeneratorAdversarial`: the non-saturating generator loss ``-log
  sigmoid(D(.))`` of reconstructions and decoded prior draws, through the decoder only
  (the codes are detached: the paper does not update the encoder with the GAN loss).

The discriminator trains in the trainer's adversary slot on its own cross-entropy
(:meth:`VAEGANModule.adversary_loss`), so neither side's loss moves the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aekit.models.factorvae import LEAKY_SLOPE
from aekit.models.terms import ForwardPass, LossTerm
from aekit.models.vae import VAEModule
from aekit.nn.blocks import conv_feature_shapes


class ImageDiscriminator(nn.Module):
    """``D(x)``: hidden layers (the features ``D_l(x)``) then one logit, for any input shape.

    For image layouts ``(c, h, w)`` with ``architecture="conv"``: one stride-2 3x3
    convolution per entry of ``hidden`` (channels), leaky ReLU (slope 0.2), flattened;
    otherwise an MLP of those widths on the flattened input.
    """

    def __init__(self, model_shape: Sequence[int], architecture: str, hidden: Sequence[int]):
        super().__init__()
        layers: list[nn.Module] = []
        if architecture == "conv":
            shapes = conv_feature_shapes(model_shape, hidden)
            for (c_in, _, _), (c_out, _, _) in zip(shapes[:-1], shapes[1:]):
                layers += [nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1), nn.LeakyReLU(LEAKY_SLOPE)]
            n_features = math.prod(shapes[-1])
        else:
            widths = [math.prod(model_shape), *hidden]
            layers.append(nn.Flatten())
            for n_in, n_out in zip(widths[:-1], widths[1:]):
                layers += [nn.Linear(n_in, n_out), nn.LeakyReLU(LEAKY_SLOPE)]
            n_features = widths[-1]
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.logit = nn.Linear(n_features, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``D_l(x)``, the last hidden layer, shape ``(n, n_features)``."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logit of "real", shape ``(n,)``."""
        return self.logit(self.body(x)).squeeze(-1)


class DiscriminatorFeatureReconstruction(LossTerm):
    """``0.5 * sum_j (D_l(x)_j - D_l(x_hat)_j)^2`` per sample: Larsen et al.'s "Dis_l" likelihood.

    ``x_hat`` is the decoder's mean for the posterior draw that the pixel term scores.
    The input's features carry no gradient (they move neither side); the
    reconstruction's pass their gradient to the decoder and the encoder.
    """

    name = "feature_reconstruction"

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        with torch.no_grad():
            real = module.adversary.features(p.x)
        reconstructed = module.adversary.features(module.likelihood.mean(p.out))
        return 0.5 * (real - reconstructed).square().sum(1)


class GeneratorAdversarial(LossTerm):
    """``0.5 * (softplus(-D(x_rec)) + softplus(-D(x_prior)))`` per sample, through the decoder only.

    ``x_rec`` decodes the batch's posterior draws, detached from the encoder, and
    ``x_prior`` as many prior draws; about ``log 2 = 0.69`` at the game's equilibrium.
    """

    name = "adversarial"

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        logits = module.adversary(module.fakes(p.z.detach(), p.condition))
        reconstructed, prior = logits.chunk(2)
        return 0.5 * (F.softplus(-reconstructed) + F.softplus(-prior))


class VAEGANModule(VAEModule):
    """A :class:`VAEModule` owning the data-space discriminator as its ``adversary``.

    The trainer steps the discriminator in its own optimizer group (settings
    ``discriminator_optimizer``) on :meth:`adversary_loss` only.
    """

    def __init__(
        self,
        *args: Any,
        model_shape: Sequence[int],
        architecture: str,
        discriminator_hidden: Sequence[int],
        discriminator_optimizer: dict,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.adversary = ImageDiscriminator(model_shape, architecture, discriminator_hidden)
        self.adversary_optimizer = dict(discriminator_optimizer)

    def fakes(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """The decoded images of ``z`` followed by as many decoded prior draws, ``(2n, ...)``."""
        codes = torch.cat([z, torch.randn_like(z)])
        return self.decode(codes, None if condition is None else torch.cat([condition, condition]))

    def adversary_loss(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, epoch: int | None = None
    ) -> torch.Tensor:
        """Cross-entropy of telling the batch (1) from its reconstructions and prior samples (0).

        ``0.5 * (BCE(D(x), 1) + mean of BCE(D(fake), 0) over both kinds)``: about log 2 at
        equilibrium.  The fakes are made again without gradient (one extra encoder and
        decoder pass): the discriminator's loss must not move the VAE.
        """
        with torch.no_grad():
            x, x_in = self.training_inputs(x)
            fakes = self.fakes(self.sample_posterior(x_in, condition).z, condition)
        real, fake = self.adversary(x), self.adversary(fakes)
        return 0.5 * (
            F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        )
