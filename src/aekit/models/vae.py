"""The variational autoencoder (Kingma & Welling, 2014).

q(z|x) is a diagonal Gaussian whose mean and log-variance come from one linear head
on the encoder features; p(z) = N(0, I); p(x|z) is any :class:`Likelihood`.
Sampling uses the reparameterization trick ``z = mu + sigma * eps``.  The ELBO's
parts are loss terms (:class:`~aekit.models.terms.Reconstruction` and
:class:`~aekit.models.terms.GaussianKL`, which carries beta, warm-up and free bits);
relatives add terms to them.

With a ``posterior_flow`` (inverse autoregressive steps, Kingma et al., 2016) the
Gaussian draw is pushed through the flow, whose context is the encoder's features:
``z = f(mu + sigma * eps; h)`` and ``log q(z|x) = log N(z_0; mu, sigma^2) - log |det
df/dz_0|``, exact for the draw at hand, so the KL is charged as the one-draw estimate
:class:`~aekit.models.terms.MonteCarloKL` and importance weights use the exact density.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from aekit.models.base import BaseModule, Transform
from aekit.models.terms import (  # the densities' home is terms.py; imported from here by older code
    ForwardPass,
    LossTerm,
    diagonal_normal_log_prob,
    gaussian_kl,
    standard_normal_log_prob,
)
from aekit.nn.likelihoods import Likelihood

OBJECTIVES = ("elbo", "iwae")
__all__ = ["OBJECTIVES", "PosteriorDraw", "VAEModule", "diagonal_normal_log_prob", "standard_normal_log_prob"]


class PosteriorDraw(NamedTuple):
    """One reparameterized draw ``z`` of q(z|x) with its log-density ``log_q``, per sample.

    ``mu`` and ``logvar`` are those of the Gaussian the draw starts from (the whole
    posterior when there is no flow); ``code`` is the deterministic code, the image of
    ``mu`` (``mu`` itself without a flow).
    """

    z: torch.Tensor
    log_q: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    code: torch.Tensor


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
    * ``posterior_flow`` (a :class:`~aekit.models.flows.Flow` whose layers take the
      encoder's features as context, e.g. :func:`~aekit.models.flows.make_iaf_posterior`):
      the posterior is the flow's image of the diagonal Gaussian; :meth:`encode` is the
      image of its mean, ``ForwardPass.logvar`` is None and ``log_posterior`` holds the
      exact log q(z|x) of the draw.
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
        posterior_flow: nn.Module | None = None,
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
        self.posterior_flow = posterior_flow

    def _gaussian_and_context(
        self, x: torch.Tensor, condition: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(mu, logvar, h)``: the Gaussian's parameters and the encoder features they come from."""
        h = self.encoder(self._conditioned(x, condition))
        mu, logvar = self.posterior(h).chunk(2, dim=-1)
        return mu, logvar, h

    def posterior_params(
        self, x: torch.Tensor, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of the diagonal Gaussian (with a flow: the Gaussian the flow starts from)."""
        return self._gaussian_and_context(x, condition)[:2]

    def _through_flow(self, z0: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, log |det dz/dz0|)``; the identity (log-det 0) without a flow."""
        if self.posterior_flow is None:
            return z0, z0.new_zeros(z0.shape[:-1])
        return self.posterior_flow.transform(z0, h)

    def sample_posterior(
        self, x: torch.Tensor, condition: torch.Tensor | None = None, eps: torch.Tensor | float | None = None
    ) -> PosteriorDraw:
        """One draw of q(z|x) per row, from the standard-normal noise ``eps`` (drawn when None; 0.0 gives
        the image of the mean)."""
        mu, logvar, h = self._gaussian_and_context(x, condition)
        eps = torch.randn_like(mu) if eps is None else eps
        z0 = mu + torch.exp(0.5 * logvar) * eps
        log_q0 = diagonal_normal_log_prob(z0, mu, logvar)
        if self.posterior_flow is None:
            return PosteriorDraw(z0, log_q0, mu, logvar, mu)
        z, log_det = self._through_flow(z0, h)
        return PosteriorDraw(z, log_q0 - log_det, mu, logvar, self._through_flow(mu, h)[0])

    def encode(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_conditions and condition is None:
            condition = self.most_likely_condition(x)
        mu, _, h = self._gaussian_and_context(x, condition)
        return self._through_flow(mu, h)[0]

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
        draw = self.sample_posterior(x_in, condition)
        return ForwardPass(
            x=x,
            x_in=x_in,
            code=draw.code,
            z=draw.z,
            out=self.decoder_output(draw.z, condition),
            logvar=draw.logvar if self.posterior_flow is None else None,
            condition=condition,
            log_posterior=draw.log_q,
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
        log_w, log_px_z, kl = self._importance_terms(x, k, condition)
        reconstruction = -log_px_z.mean(1)
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
        With a posterior flow, which has no closed-form KL, the KL is its one-point value
        ``log q(z|x) - log p(z)`` at the code ``z = f(mu)`` (the draw of noise 0).
        """
        if self.n_conditions and condition is None:
            condition = self.most_likely_condition(x)
        if self.posterior_flow is None:
            mu, logvar = self.posterior_params(x, condition)
            reconstruction = self.likelihood.nll(self.decoder_output(mu, condition), x)
            return -(reconstruction + gaussian_kl(mu, logvar).sum(-1))
        draw = self.sample_posterior(x, condition, eps=0.0)
        reconstruction = self.likelihood.nll(self.decoder_output(draw.z, condition), x)
        return -(reconstruction + draw.log_q - standard_normal_log_prob(draw.z))

    def _importance_terms(
        self, x: torch.Tensor, n_samples: int, condition: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(log w, log p(x | z), KL)``: the first two of shape ``(n, k)``; the KL ``(n,)`` is in
        closed form for the Gaussian posterior, the mean of ``log q - log p`` over the draws with a flow."""
        mu, logvar, h = self._gaussian_and_context(x, condition)
        n = x.shape[0]
        eps = torch.randn(n_samples, n, self.latent_dim, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps  # (k, n, latent)
        log_q = diagonal_normal_log_prob(z, mu, logvar)
        if self.posterior_flow is not None:
            z, log_det = self._through_flow(z.reshape(n_samples * n, -1), h.repeat(n_samples, 1))
            z, log_q = z.reshape(n_samples, n, -1), log_q - log_det.reshape(n_samples, n)
        repeated = None if condition is None else condition.repeat(n_samples, 1)
        out = self.decoder_output(z.reshape(n_samples * n, -1), repeated)
        x_rep = x.unsqueeze(0).expand(n_samples, *x.shape).reshape(n_samples * n, *x.shape[1:])
        log_px_z = -self.likelihood.nll(out, x_rep).reshape(n_samples, n)
        log_pz = standard_normal_log_prob(z)
        log_w = log_px_z + log_pz - log_q
        kl = gaussian_kl(mu, logvar).sum(-1) if self.posterior_flow is None else (log_q - log_pz).mean(0)
        return log_w.T, log_px_z.T, kl

    def log_importance_weights(
        self, x: torch.Tensor, n_samples: int, condition: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``log p(x, z_k) - log q(z_k | x)`` for ``n_samples`` draws per input, shape ``(n, k)``."""
        return self._importance_terms(x, n_samples, condition)[0]
