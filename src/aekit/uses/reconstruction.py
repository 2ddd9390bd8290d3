"""Per-sample reconstruction error under a choice of metric."""

from __future__ import annotations

from typing import Any

import numpy as np

from aekit.estimators.base import UNIT_INTERVAL_TOLERANCE, never_nan

_EPS = 1e-7


def _squared(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    return np.square(x - x_hat)


def _absolute(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    return np.abs(x - x_hat)


def _cross_entropy(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    p = np.clip(x_hat, _EPS, 1 - _EPS)
    return -(x * np.log(p) + (1 - x) * np.log1p(-p))


#: Per-feature errors (n, d) of each metric; a sample's error is their sum.
RECONSTRUCTION_METRICS = {"squared": _squared, "absolute": _absolute, "cross_entropy": _cross_entropy}


def feature_errors(estimator: Any, X: Any, metric: str = "squared") -> np.ndarray:
    """Per-feature reconstruction error of a fitted autoencoder, shape (n, n_features) (images flattened)."""
    if metric not in RECONSTRUCTION_METRICS:
        raise ValueError(f"metric must be one of {sorted(RECONSTRUCTION_METRICS)}; got {metric!r}.")
    x_hat = np.asarray(estimator.reconstruct(X))
    n = x_hat.shape[0]
    x = np.asarray(X, dtype=np.float64).reshape(n, -1)
    if metric == "cross_entropy" and (x.min() < -UNIT_INTERVAL_TOLERANCE or x.max() > 1 + UNIT_INTERVAL_TOLERANCE):
        raise ValueError(
            f"metric='cross_entropy' scores inputs in [0, 1] (as Bernoulli outcomes), but X ranges over "
            f"[{x.min():.4g}, {x.max():.4g}]; scale X to [0, 1] as the training data was, or use metric='squared'."
        )
    errors = RECONSTRUCTION_METRICS[metric](x, x_hat.reshape(n, -1).astype(np.float64))
    return never_nan(errors, np.inf)


def reconstruction_error(estimator: Any, X: Any, metric: str = "squared") -> np.ndarray:
    """Per-sample reconstruction error of a fitted autoencoder, shape (n,); higher = worse.

    Parameters
    ----------
    estimator : fitted aekit estimator
    X : array-like shaped like the training data
    metric : {"squared", "absolute", "cross_entropy"}, default="squared"
        Summed over features: squared error, absolute error, or binary cross-entropy
        of ``X`` (in [0, 1]) under the reconstruction taken as Bernoulli means.
    """
    return feature_errors(estimator, X, metric).sum(1)
