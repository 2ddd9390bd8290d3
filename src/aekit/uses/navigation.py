"""Walking the latent space: interpolation between two inputs and traversal of code dimensions."""

from __future__ import annotations

from typing import Any

import numpy as np

from aekit.utils.checks import check_positive_int

INTERPOLATION_METHODS = ("slerp", "linear")
_PARALLEL_TOLERANCE = 1e-7


def _one_sample(estimator: Any, x: Any, name: str) -> np.ndarray:
    """``x`` as a batch of one sample shaped like the estimator's training samples."""
    x = np.asarray(x)
    if x.shape == tuple(estimator.input_shape_) or (x.ndim == 1 and x.size == estimator.n_features_in_):
        return x[np.newaxis]
    raise ValueError(
        f"{name} has shape {x.shape}; pass one sample shaped like a training sample, "
        f"{tuple(estimator.input_shape_)} (e.g. X[0], not X[:1])."
    )


def interpolate_codes(z_a: np.ndarray, z_b: np.ndarray, n_steps: int = 8, method: str = "slerp") -> np.ndarray:
    """``n_steps`` codes from ``z_a`` to ``z_b`` (both included), shape (n_steps, latent_dim).

    "linear" walks the straight segment.  "slerp" walks the great circle between the
    two directions while the norm changes linearly from ``|z_a|`` to ``|z_b|``; unlike
    the segment, it does not pass through low-norm codes, which are atypical under a
    Gaussian prior in many dimensions (White, 2016).
    """
    check_positive_int("n_steps", n_steps, minimum=2)
    if method not in INTERPOLATION_METHODS:
        raise ValueError(f"method must be one of {INTERPOLATION_METHODS}; got {method!r}.")
    z_a, z_b = np.asarray(z_a, dtype=np.float64), np.asarray(z_b, dtype=np.float64)
    t = np.linspace(0.0, 1.0, n_steps)[:, np.newaxis]
    if method == "linear":
        return (1 - t) * z_a + t * z_b
    norm_a, norm_b = np.linalg.norm(z_a), np.linalg.norm(z_b)
    if min(norm_a, norm_b) < _PARALLEL_TOLERANCE:  # no direction to rotate from or to
        return (1 - t) * z_a + t * z_b
    u_a, u_b = z_a / norm_a, z_b / norm_b
    omega = np.arccos(np.clip(u_a @ u_b, -1.0, 1.0))
    if np.sin(omega) < _PARALLEL_TOLERANCE:  # same direction: the great circle degenerates
        directions = (1 - t) * u_a + t * u_b
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    else:
        directions = (np.sin((1 - t) * omega) * u_a + np.sin(t * omega) * u_b) / np.sin(omega)
    return ((1 - t) * norm_a + t * norm_b) * directions


def interpolate(estimator: Any, x_a: Any, x_b: Any, n_steps: int = 8, method: str = "slerp") -> np.ndarray:
    """Decode a path in code space between two inputs, shape (n_steps, *sample_shape).

    The first and last rows are the reconstructions of ``x_a`` and ``x_b``.

    Parameters
    ----------
    estimator : fitted aekit estimator
    x_a, x_b : array-like
        One sample each, shaped like a training sample.
    n_steps : int, default=8
        Number of decoded points, endpoints included (>= 2).
    method : {"slerp", "linear"}, default="slerp"
        See :func:`interpolate_codes`.
    """
    codes = estimator.transform(np.concatenate([_one_sample(estimator, x_a, "x_a"), _one_sample(estimator, x_b, "x_b")]))
    path = interpolate_codes(codes[0], codes[1], n_steps=n_steps, method=method)
    return estimator.inverse_transform(path.astype(codes.dtype))


def traverse(estimator: Any, x: Any, dims: Any = None, values: Any = None) -> np.ndarray:
    """Decode the code of ``x`` with one dimension at a time set to each of ``values``.

    Returns an array of shape (len(dims), len(values), *sample_shape): row ``i`` shows
    what code dimension ``dims[i]`` controls.

    Parameters
    ----------
    estimator : fitted aekit estimator
    x : array-like
        One sample shaped like a training sample.
    dims : sequence of int or None, default=None
        Code dimensions to traverse; None means all of them.
    values : sequence of float or None, default=None
        The values each dimension is set to; None means 7 points from -3 to 3, the
        natural range of a VAE code (prior N(0, 1)).  For a deterministic
        autoencoder, choose values on the scale of ``estimator.transform(X)[:, dim]``.
    """
    code = estimator.transform(_one_sample(estimator, x, "x"))[0]
    latent_dim = code.shape[0]
    dims = np.arange(latent_dim) if dims is None else np.asarray(dims).reshape(-1)
    if dims.size == 0 or not np.issubdtype(dims.dtype, np.integer) or dims.min() < 0 or dims.max() >= latent_dim:
        raise ValueError(f"dims must be code dimensions in [0, {latent_dim - 1}]; got {dims.tolist()}.")
    values = np.linspace(-3.0, 3.0, 7) if values is None else np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError("values must be a non-empty sequence of finite numbers.")
    codes = np.repeat(code[np.newaxis, np.newaxis], len(dims), 0).repeat(len(values), 1)
    codes[np.arange(len(dims)), :, dims] = values
    decoded = estimator.inverse_transform(codes.reshape(-1, latent_dim))
    return decoded.reshape(len(dims), len(values), *decoded.shape[1:])
