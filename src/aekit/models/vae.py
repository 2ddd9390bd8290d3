"""The variational autoencoder (Kingma & Welling, 2014) and its beta/warm-up schedule.

q(z|x) is a diagonal Gaussian whose mean and log-variance come from one linear head
on the encoder features; p(z) = N(0, I); p(x|z) is any :class:`Likelihood`.
Sampling uses the reparameterization trick ``z = mu + sigma * eps``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from aekit.models.base import AutoencoderModule
from aekit.nn.likelihoods import Likelihood

_LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per latent dimension, shape like ``mu``."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z.square() + _LOG_2PI).sum(-1)


def diagonal_normal_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * ((z - mu).square() * torch.exp(-logvar) + logvar + _LOG_2PI).sum(-1)


class VAEModule(AutoencoderModule):
    """encoder body -> (mu, logvar) -> z -> decoder -> likelihood.

    ``loss = reconstruction + beta * kl_weight * kl`` per sample, where ``kl_weight``
    rises linearly from ``1/kl_warmup_epochs`` to 1 over the first
    ``kl_warmup_epochs`` epochs (0 disables the warm-up).  ``resample`` (e.g.
    ``torch.bernoulli`` for dynamic binarization) redraws each training batch, input
    and target alike, every time it is used.
    """

    def __init__(
        self,
        encoder: nn.Module,
        encoder_features: int,
        decoder: nn.Module,
        likelihood: Likelihood,
        latent_dim: int,
        beta: float = 1.0,
        kl_warmup_epochs: int = 0,
        resample: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.posterior = nn.Linear(encoder_features, 2 * latent_dim)
        self.decoder = decoder
        self.likelihood = likelihood
        self.latent_dim = latent_dim
        self.beta = float(beta)
        self.kl_warmup_epochs = int(kl_warmup_epochs)
        self.kl_weight = 1.0
        self.resample = resample

    def begin_epoch(self, epoch: int) -> None:
        if self.kl_warmup_epochs > 0:
            self.kl_weight = min(1.0, (epoch + 1) / self.kl_warmup_epochs)

    def posterior_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.posterior(self.encoder(x)).chunk(2, dim=-1)
        return mu, logvar

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.posterior_params(x)[0]

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.likelihood.mean(self.decoder(z))

    def loss_terms(
        self, x: torch.Tensor, condition: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        if self.training and self.resample is not None:
            x = self.resample(x)
        mu, logvar = self.posterior_params(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        reconstruction = self.likelihood.nll(self.decoder(z), x)
        kl = gaussian_kl(mu, logvar).sum(-1)
        return {
            "reconstruction": reconstruction,
            "kl": kl,
            "elbo": -(reconstruction + kl),
            "loss": reconstruction + (self.beta * self.kl_weight) * kl,
        }

    def score(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Deterministic ELBO surrogate: log p(x | z=mu) - KL(q(z|x) || p(z))."""
        mu, logvar = self.posterior_params(x)
        return -(self.likelihood.nll(self.decoder(mu), x) + gaussian_kl(mu, logvar).sum(-1))

    def log_importance_weights(self, x: torch.Tensor, n_samples: int) -> torch.Tensor:
        """``log p(x, z_k) - log q(z_k | x)`` for ``n_samples`` draws per input, shape ``(n, k)``."""
        mu, logvar = self.posterior_params(x)
        n = x.shape[0]
        eps = torch.randn(n_samples, n, self.latent_dim, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps  # (k, n, latent)
        out = self.decoder(z.reshape(n_samples * n, -1))
        x_rep = x.unsqueeze(0).expand(n_samples, *x.shape).reshape(n_samples * n, *x.shape[1:])
        log_px_z = -self.likelihood.nll(out, x_rep).reshape(n_samples, n)
        log_w = log_px_z + standard_normal_log_prob(z) - diagonal_normal_log_prob(z, mu, logvar)
        return log_w.T
