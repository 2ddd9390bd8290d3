"""The loss-term contract shared by every model family.

A module computes one :class:`ForwardPass` per batch; each :class:`LossTerm` reads
what it needs from it.  The module's objective is the weighted sum of its terms
(:meth:`aekit.models.BaseModule.loss_terms`), and every term's value is reported in
the training history under the term's ``name``.  A new relative of a model is a new
term added to its parent's list, not a copied model::

    class SomeVAE(aekit.VAE):
        def _loss_terms(self):
            return [*super()._loss_terms(), NewTerm(weight=self.new_weight)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import jacrev, vmap

_LOG_2PI = math.log(2 * math.pi)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last axis."""
    return -0.5 * (z.square() + _LOG_2PI).sum(-1)


def diagonal_normal_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))), summed over the last axis."""
    return -0.5 * ((z - mu).square() * torch.exp(-logvar) + logvar + _LOG_2PI).sum(-1)


@dataclass
class ForwardPass:
    """One forward pass of a batch, computed once and read by every loss term.

    ``x`` is the target, ``x_in`` what the encoder saw (after corruption); ``code`` the
    deterministic code (the posterior mean for probabilistic models); ``z`` the code
    that was decoded (a posterior draw for probabilistic models); ``logvar`` the
    log-variance of a diagonal-Gaussian posterior (None when deterministic, and when the
    posterior is no diagonal Gaussian, e.g. a flow); ``out`` the decoder output (the
    likelihood's parameters); ``condition`` the one-hot condition of a conditional model;
    ``log_posterior`` the posterior's log-density ``log q(z|x)`` at ``z`` per sample, where
    the model has one (None otherwise).
    """

    x: torch.Tensor
    x_in: torch.Tensor
    code: torch.Tensor
    z: torch.Tensor
    out: torch.Tensor
    logvar: torch.Tensor | None = None
    condition: torch.Tensor | None = None
    log_posterior: torch.Tensor | None = None


class LossTerm(nn.Module):
    """``weight_at(epoch) * forward(module, p)`` is added to the objective.

    ``forward`` returns per-sample values ``(n,)`` or a scalar for a batch-level term;
    that value is what the history reports.  :meth:`charged` may turn it into what the
    objective is charged (free bits, for instance).  ``min_batch`` declares how many rows
    a batch statistic needs: the trainer and evaluation never hand the term fewer
    (except evaluation of a whole set that is smaller).  The weight may rise linearly
    over the first ``warmup_epochs`` epochs, a closed form of the epoch so that a
    resumed run needs no state.
    """

    name = "term"
    min_batch = 1

    def __init__(self, weight: float = 1.0, warmup_epochs: int = 0):
        super().__init__()
        self.weight = float(weight)
        self.warmup_epochs = int(warmup_epochs)

    def weight_at(self, epoch: int | None) -> float:
        """The weight during 0-based ``epoch``; None (after training) is the full weight."""
        if epoch is None or self.warmup_epochs <= 0:
            return self.weight
        return self.weight * min(1.0, (epoch + 1) / self.warmup_epochs)

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        raise NotImplementedError

    def charged(self, value: torch.Tensor, p: ForwardPass) -> torch.Tensor:
        """What the objective is charged for ``value`` (by default the value itself)."""
        return value

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}" + (f", warmup_epochs={self.warmup_epochs}" if self.warmup_epochs else "")


class Reconstruction(LossTerm):
    """Minus the log-likelihood of the target under the decoder output, summed over features."""

    name = "reconstruction"

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        return module.likelihood.nll(p.out, p.x)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per latent dimension, shape like ``mu``."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)


class GaussianKL(LossTerm):
    """KL(q(z|x) || N(0, I)) of a diagonal-Gaussian posterior, per sample.

    ``weight`` is the beta of a beta-VAE.  With ``free_bits`` > 0 (Kingma et al., 2016)
    each latent dimension's KL, averaged over the batch, is charged no less than that
    many nats, so the optimizer gains nothing by collapsing a dimension below it; the
    history still reports the true KL.
    """

    name = "kl"

    def __init__(self, weight: float = 1.0, warmup_epochs: int = 0, free_bits: float = 0.0):
        super().__init__(weight, warmup_epochs)
        self.free_bits = float(free_bits)

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        return gaussian_kl(p.code, p.logvar).sum(-1)

    def charged(self, value: torch.Tensor, p: ForwardPass) -> torch.Tensor:
        if self.free_bits <= 0:
            return value
        return gaussian_kl(p.code, p.logvar).mean(0).clamp(min=self.free_bits).sum()


class MonteCarloKL(LossTerm):
    """``log q(z|x) - log N(z; 0, I)`` at the decoded draw ``z``, per sample: a one-draw estimate of the KL.

    For posteriors without a closed-form KL, such as the inverse autoregressive flow
    of Kingma et al. (2016), who train on this single-sample estimate.  It reads
    ``p.log_posterior``; ``weight`` is beta, as for :class:`GaussianKL`.
    """

    name = "kl"

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        return p.log_posterior - standard_normal_log_prob(p.z)


class L1Activity(LossTerm):
    """``sum_j |h_j|`` per sample: pushes most code values to (near) zero."""

    name = "l1"

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        return p.code.abs().flatten(1).sum(1)


class KLSparsity(LossTerm):
    """``sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j`` unit j's mean activation over the batch.

    The code must lie in (0, 1) (a sigmoid code): each unit is treated as a Bernoulli
    variable whose average firing rate is pulled towards ``target`` (Ng's sparse
    autoencoder).  A batch-level term, so ``forward`` returns a scalar.
    """

    name = "kl_sparsity"
    _eps = 1e-6

    def __init__(self, weight: float, target: float):
        super().__init__(weight)
        self.target = float(target)

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        rho = self.target
        rho_hat = p.code.flatten(1).mean(0).clamp(self._eps, 1 - self._eps)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return kl.sum()


def _leaf_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if not list(m.children())]


def _single_sigmoid_layer(encoder: nn.Module) -> nn.Linear | None:
    """The Linear of an encoder that is just ``[Flatten] -> Linear -> Sigmoid``, else None."""
    layers = [m for m in _leaf_layers(encoder) if not isinstance(m, nn.Flatten)]
    if len(layers) == 2 and isinstance(layers[0], nn.Linear) and isinstance(layers[1], nn.Sigmoid):
        return layers[0]
    return None


def jacobian_squared_norm(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Exact squared Frobenius norm of the encoder's Jacobian ``||dh/dx||_F^2`` per sample.

    For a one-hidden-layer sigmoid encoder ``h = sigmoid(W x + b)`` the closed form
    ``sum_j (h_j (1 - h_j))^2 ||W_j||^2`` costs one forward pass, O(n (k d)).
    Any other encoder gets the full Jacobian by batched reverse-mode autograd
    (``vmap(jacrev(encoder))``): about ``k`` (code size) vector-Jacobian products per
    sample, vectorized, and O(n k d) memory for ``n`` samples of ``d`` inputs.
    The result stays differentiable with respect to the encoder's weights.  An
    encoder with dropout, in training mode, is differentiated under a mask drawn
    for each sample.
    """
    linear = _single_sigmoid_layer(encoder)
    if linear is not None:
        h = encoder(x)
        return ((h * (1 - h)).square() * linear.weight.square().sum(1)).sum(1)

    def encode_one(sample: torch.Tensor) -> torch.Tensor:
        return encoder(sample.unsqueeze(0)).squeeze(0)

    jacobians = vmap(jacrev(encode_one), randomness="different")(x)  # (n, *code_shape, *input_shape)
    return jacobians.flatten(1).square().sum(1)


def jacobian_squared_norm_estimate(encoder: nn.Module, x: torch.Tensor, n_projections: int = 1) -> torch.Tensor:
    """Unbiased random-projection estimate of ``||dh/dx||_F^2`` per sample.

    For ``v ~ N(0, I)`` in code space, ``E ||v^T J||^2 = trace(J J^T) = ||J||_F^2``
    (Hutchinson's estimator), so the mean over ``n_projections`` draws estimates the
    exact norm at one vector-Jacobian product each, instead of one per code unit.
    The samples of a batch are independent (no batch statistics in the encoder), so
    one batched product gives every sample's ``v^T J``.  Differentiable with
    respect to the encoder's weights when gradients are on (in training); under
    ``torch.no_grad`` (validation) it still differentiates with respect to ``x``.
    """
    differentiable = torch.is_grad_enabled()
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        h = encoder(x)
        total = x.new_zeros(x.shape[0])
        for draw in range(n_projections):
            (vjp,) = torch.autograd.grad(
                h,
                x,
                grad_outputs=torch.randn_like(h),
                create_graph=differentiable,
                retain_graph=differentiable or draw < n_projections - 1,
            )
            total = total + vjp.flatten(1).square().sum(1)
    estimate = total / n_projections
    return estimate if differentiable else estimate.detach()


class Contraction(LossTerm):
    """The contractive penalty ``||dh/dx||_F^2`` per sample (Rifai et al., 2011), at the encoder's input.

    Exact (:func:`jacobian_squared_norm`) when ``n_projections`` is None, else the
    random-projection estimate (:func:`jacobian_squared_norm_estimate`) with that
    many draws per sample and step.
    """

    name = "contraction"

    def __init__(self, weight: float = 1.0, n_projections: int | None = None, **kwargs):
        super().__init__(weight, **kwargs)
        self.n_projections = n_projections

    def forward(self, module: nn.Module, p: ForwardPass) -> torch.Tensor:
        if self.n_projections is not None:
            return jacobian_squared_norm_estimate(module.encoder, p.x_in, self.n_projections)
        return jacobian_squared_norm(module.encoder, p.x_in)
