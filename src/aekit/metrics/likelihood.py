"""Probabilistic metrics of a fitted VAE: ELBO, importance-weighted log-likelihood, KL per dimension."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aekit.models.terms import gaussian_kl
from aekit.utils.checks import check_positive_int
from aekit.utils.runtime import draw_seed, torch_seeded


def _model_input(estimator: Any, X: Any, metric: str) -> torch.Tensor:
    if not hasattr(estimator, "module_") or not hasattr(estimator.module_, "posterior_params"):
        raise TypeError(
            f"{metric} needs a fitted model with a posterior q(z|x) (a VAE); got "
            f"{type(estimator).__name__}. Use reconstruction_error for deterministic autoencoders."
        )
    return estimator._to_tensor(estimator._validate_X(X, reset=False))


def elbo(estimator: Any, X: Any, n_samples: int = 1, random_state: Any = None, y: Any = None) -> np.ndarray:
    """Per-sample evidence lower bound in nats (higher is better), averaged over ``n_samples`` draws of z.

    ``E_q[log p(x|z)] - KL(q(z|x) || p(z))``, the KL in closed form for a Gaussian posterior
    (for ``posterior="iaf"``, a Monte Carlo estimate from the same draw of z).  This is
    the k=1 importance-weighted bound; :func:`log_likelihood` tightens it.  A
    conditional VAE bounds log p(x | y) and needs the labels ``y``.
    """
    x = _model_input(estimator, X, "elbo")
    check_positive_int("n_samples", n_samples)
    condition = estimator._condition(y, x.shape[0])
    module = estimator.module_  # in eval mode after fit/load: no training-time resampling
    with torch_seeded(draw_seed(random_state), estimator.device_):
        draws = [
            estimator._map_batches(lambda *batch: module.loss_terms(*batch)["elbo"], x, *condition)
            for _ in range(n_samples)
        ]
    return np.mean(draws, axis=0, dtype=np.float64)


def log_likelihood(
    estimator: Any, X: Any, n_samples: int = 1000, random_state: Any = None, y: Any = None
) -> np.ndarray:
    """Importance-weighted estimate of log p(x) in nats per sample (Burda et al., 2016).

    ``-log_likelihood(...).mean()`` with ``n_samples=5000`` is the test NLL reported
    for binarized MNIST.  Delegates to :meth:`aekit.VAE.log_likelihood` (a
    conditional VAE estimates log p(x | y) and needs ``y``).
    """
    if not hasattr(estimator, "log_likelihood"):
        raise TypeError(f"log_likelihood needs a VAE-family estimator; got {type(estimator).__name__}.")
    return estimator.log_likelihood(X, n_samples=n_samples, random_state=random_state, y=y)


def kl_per_dimension(estimator: Any, X: Any, y: Any = None) -> np.ndarray:
    """Mean over ``X`` of KL(q(z_j|x) || N(0, 1)) for each latent dimension j, shape (latent_dim,).

    Dimensions with KL near 0 carry no information about the input (posterior
    collapse).  A conditional VAE's posterior q(z | x, y) needs the labels ``y``.
    Only a diagonal Gaussian posterior's KL splits over dimensions: a VAE with
    ``posterior="iaf"`` is refused (its flow mixes the dimensions).
    """
    posterior = getattr(estimator, "posterior", "gaussian")
    if posterior != "gaussian":
        raise ValueError(
            f"kl_per_dimension needs a diagonal Gaussian posterior, whose KL is a sum over dimensions; this VAE "
            f"has posterior={posterior!r}, whose flow mixes the dimensions, so no per-dimension KL exists. Use "
            "aekit.metrics.active_dimensions for which dimensions carry information, or elbo/log_likelihood."
        )
    x = _model_input(estimator, X, "kl_per_dimension")
    condition = estimator._condition(y, x.shape[0])
    kl = estimator._map_batches(
        lambda *batch: gaussian_kl(*estimator.module_.posterior_params(*batch)), x, *condition
    )
    return kl.mean(0, dtype=np.float64)


def active_dimensions(estimator: Any, X: Any, threshold: float = 0.01, y: Any = None) -> np.ndarray:
    """Which latent dimensions are active units (Burda et al., 2016), a bool array of shape (latent_dim,).

    Dimension ``j`` is active when ``Var_x(E_q[z_j | x]) > threshold``: the code
    moves along it from one input to the next.  Uses ``transform`` (the posterior
    mean for a VAE, the code for a deterministic autoencoder); ``y`` gives a
    conditional VAE's labels.
    """
    codes = estimator.transform(X) if y is None else estimator.transform(X, y)
    return np.var(codes.astype(np.float64), axis=0) > threshold


def active_units(estimator: Any, X: Any, threshold: float = 0.01, y: Any = None) -> int:
    """Number of latent dimensions whose code varies across ``X`` (Burda et al., 2016).

    The count of :func:`active_dimensions`: a unit is active when
    ``Var_x(E_q[z_j | x]) > threshold``.
    """
    return int(active_dimensions(estimator, X, threshold=threshold, y=y).sum())
