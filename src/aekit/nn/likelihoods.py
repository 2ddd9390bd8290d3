"""Observation models p(x | z): from decoder output to a mean and a per-sample loss.

Each likelihood turns the raw decoder output into

* ``mean(out)`` — the reconstruction in data space, and
* ``nll(out, x)`` — the per-sample negative log-likelihood (or loss), summed over
  every feature, shape ``(n,)``.

Summing over features (rather than averaging) keeps the reconstruction term on the
scale of the KL term, so a VAE's ELBO is in nats per sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _sum_features(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).sum(1)


class Likelihood(nn.Module):
    name = "likelihood"

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Bernoulli(Likelihood):
    """Decoder outputs logits; targets in [0, 1] (binary cross-entropy)."""

    name = "bernoulli"

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out)

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return _sum_features(F.binary_cross_entropy_with_logits(out, x, reduction="none"))


class SquaredError(Likelihood):
    """Sum of squared errors: a Gaussian with unit variance, constants dropped."""

    name = "mse"

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return _sum_features((out - x).square())


class Gaussian(Likelihood):
    """Gaussian with a learned standard deviation per feature (shared by all samples).

    The log-scale is clamped below so that the density cannot collapse onto the
    training points.
    """

    name = "gaussian"
    min_log_scale = math.log(1e-3)

    def __init__(self, model_shape: Sequence[int]):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(tuple(model_shape)))

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        log_scale = self.log_scale.clamp(min=self.min_log_scale)
        z = (x - out) * torch.exp(-log_scale)
        return _sum_features(0.5 * z.square() + log_scale + _HALF_LOG_2PI)


def make_likelihood(name: str, model_shape: Sequence[int]) -> Likelihood:
    if name in ("bernoulli", "bce"):
        return Bernoulli()
    if name == "mse":
        return SquaredError()
    if name == "gaussian":
        return Gaussian(model_shape)
    raise ValueError(f"Unknown likelihood/loss {name!r}; use 'bernoulli'/'bce', 'gaussian' or 'mse'.")
