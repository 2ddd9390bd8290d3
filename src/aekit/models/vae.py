"""The variational autoencoder (Kingma & Welling, 2014).

q(z|x) is a diagonal Gaussian whose mean and log-variance come from one linear head
on the encoder features; p(z) = N(0, I); p(x|z) is any :class:`Likelihood`.
Sampling uses the reparameterization trick ``z = mu + sigma * eps``.  The ELBO's
parts are loss terms (:class:`~aekit.models.terms.Reconstruction` and
:class:`~aekit.models.terms.GaussianKL`, which carries beta, warm-up and free bits);
relatives add terms to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from aekit.models.base import BaseModule, Transform
from aekit.models.terms import ForwardPass, LossTerm, gaussian_kl
from aekit.nn.likelihoods import Likelihood

_LOG_2PI = math.log(2 * math.pi)
OBJECTIVES = ("elbo", "iwae")


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z.square() + _LOG_2PI).sum(-1)


def diagonal_normal_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * ((z - mu).square() * torch.exp(-logvar) + logvar + _LOG_2PI).sum(-1)


class VAEModule(BaseModule):
    """encoder body -> (mu, logvar) -> z -> decoder -> likelihood.

    * ``objective="iwae"`` (Burda et al., 2016): minimize minus the importance
      weighted bound ``logsumexp_k log w_k - log k`` with ``n_importance_samples``
      draws per input (k=1 is the ELBO).  The bound replaces the terms' sum (it is
      not added to it); the terms' values are still reported.
    * ``n_conditions > 0`` (a conditional VAE, Sohn et al., 2015): both the encoder,
      q(z | x, y), and the decoder, p(x | z, y), see the one-hot condition (appended to
      the input as features, or as constant channels of an image, and to the code).
      The encoder must then take ``n_conditions`` extra input features or channels.
      Without a condition, :meth:`encode` uses the label with the highest ELBO
      surrogate (:meth:`most_likely_condition`).
    """

    def __init__(
        self,
        encoder: nn.Module,
        encoder_features: int,
        decoder: nn.Module,
        likelihood: Likelihood,
        latent_dim: int,
        terms: Sequence[LossTerm],
        corruption: Transform | None = None,
        resample: Transform | None = None,
        objective: str = "elbo",
        n_importance_samples: int = 1,
        n_conditions: int = 0,
    ):
        super().__init__(terms, corruption, resample)
        self.encoder = encoder
        self.posterior = nn.Linear(encoder_features, 2 * latent_dim)
        self.decoder = decoder
        self.likelihood = likelihood
        self.latent_dim = latent_dim
        self.objective = objective
        self.n_importance_samples = int(n_importance_samples)
        self.n_conditions = int(n_conditions)

    def posterior_params(
        self, x: torch.Tensor, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.posterior(self.encoder(self._conditioned(x, condition))).chunk(2, dim=-1)
        return mu, logvar

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_conditions and condition is None:
            condition = self.most_likely_condition(x)
        return self.posterior_params(x, condition)[0]

    @torch.no_grad()
    def most_likely_condition(self, x: torch.Tensor) -> torch.Tensor:
        """One-hot condition whose deterministic ELBO (:meth:`score`) is highest, per row."""
        one_hot = torch.eye(self.n_conditions, device=x.device, dtype=x.dtype)
        scores = torch.stack([self.score(x, row.expand(x.shape[0], -1)) for row in one_hot], dim=1)
        return one_hot[scores.argmax(1)]

    def _conditioned(self, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        """``x`` with the condition appended along axis 1 (as constant planes for images)."""
        if not self.n_conditions:
            return x
        if condition is None:
            raise ValueError("This VAE is conditional (fitted with labels y): pass the labels (y=...).")
        condition = condition.to(x.dtype).reshape(*condition.shape, *(1,) * (x.dim() - 2))
        return torch.cat([x, condition.expand(-1, -1, *x.shape[2:])], dim=1)

    def decoder_output(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Likelihood parameters for codes ``z`` (and, for a conditional model, its condition)."""
        return self.decoder(self._conditioned(z, condition))

    def decode(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.likelihood.mean(self.decoder_output(z, condition))

    def forward_pass(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> ForwardPass:
        x, x_in = self.training_inputs(x)
        mu, logvar = self.posterior_params(x_in, condition)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return ForwardPass(
            x=x, x_in=x_in, code=mu, z=z, out=self.decoder_output(z, condition), logvar=logvar, condition=condition
        )

    def reports(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"elbo": -(values["reconstruction"] + values["kl"])}

    def loss_terms(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, epoch: int | None = None
    ) -> dict[str, torch.Tensor]:
        if self.objective != "iwae":
            return super().loss_terms(x, condition, epoch)
        x, _ = self.training_inputs(x)
        k = self.n_importance_samples
        log_w, log_px_z, mu, logvar = self._importance_terms(x, k, condition)
        reconstruction = -log_px_z.mean(1)
        kl = gaussian_kl(mu, logvar).sum(-1)
        bound = torch.logsumexp(log_w, dim=1) - math.log(k)
        return {
            "reconstruction": reconstruction,
            "kl": kl,
            "elbo": -(reconstruction + kl),
            "iwae_bound": bound,
            "loss": -bound,
        }

    def reconstruct(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """decode(encode(x)); without a condition, a conditional model uses the most likely one for both."""
        if self.n_conditions and condition is None:
            condition = self.most_likely_condition(x)
        return super().reconstruct(x, condition)

    def score(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Deterministic ELBO surrogate: log p(x | z=mu) - KL(q(z|x) || p(z)).

        Without a condition, a conditional model scores each row under its most likely label.
        """
        if self.n_conditions and condition is None:
            condition = self.most_likely_condition(x)
        mu, logvar = self.posterior_params(x, condition)
        reconstruction = self.likelihood.nll(self.decoder_output(mu, condition), x)
        return -(reconstruction + gaussian_kl(mu, logvar).sum(-1))

    def _importance_terms(
        self, x: torch.Tensor, n_samples: int, condition: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(log w, log p(x | z), mu, logvar)`` with the first two of shape ``(n, k)``."""
        mu, logvar = self.posterior_params(x, condition)
        n = x.shape[0]
        eps = torch.randn(n_samples, n, self.latent_dim, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps  # (k, n, latent)
        repeated = None if condition is None else condition.repeat(n_samples, 1)
        out = self.decoder_output(z.reshape(n_samples * n, -1), repeated)
        x_rep = x.unsqueeze(0).expand(n_samples, *x.shape).reshape(n_samples * n, *x.shape[1:])
        log_px_z = -self.likelihood.nll(out, x_rep).reshape(n_samples, n)
        log_w = log_px_z + standard_normal_log_prob(z) - diagonal_normal_log_prob(z, mu, logvar)
        return log_w.T, log_px_z.T, mu, logvar

    def log_importance_weights(
        self, x: torch.Tensor, n_samples: int, condition: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``log p(x, z_k) - log q(z_k | x)`` for ``n_samples`` draws per input, shape ``(n, k)``."""
        return self._importance_terms(x, n_samples, condition)[0]
