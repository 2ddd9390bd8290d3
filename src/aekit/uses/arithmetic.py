"""Latent arithmetic: the code direction of an attribute, and inputs moved along it."""

from __future__ import annotations

from typing import Any

import numpy as np

_DEFAULT_AMOUNTS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def _check_mask(mask: Any, n_samples: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 1 or len(mask) != n_samples:
        raise ValueError(f"mask must hold one value per row of X ({n_samples}); got shape {mask.shape}.")
    if mask.dtype != bool:
        if not (np.issubdtype(mask.dtype, np.number) and np.isin(mask, (0, 1)).all()):
            raise ValueError("mask must be booleans (or 0/1), True for the rows with the attribute, e.g. y == 3.")
        mask = mask.astype(bool)
    if mask.all() or not mask.any():
        raise ValueError(
            f"mask marks {int(mask.sum())} of {n_samples} rows: an attribute vector needs rows with the "
            "attribute and rows without it."
        )
    return mask


def attribute_vector(estimator: Any, X: Any, mask: Any) -> np.ndarray:
    """Mean code of the rows with an attribute minus the mean code of the rows without it.

    Adding the vector to a code adds the attribute, subtracting removes it (White,
    2016; Larsen et al., 2016): see :func:`shift`.

    Parameters
    ----------
    estimator : fitted aekit estimator
    X : array-like
        Samples shaped like the training samples.
    mask : array-like of bool, shape (n_samples,)
        True for the rows of ``X`` that have the attribute; both groups must be non-empty.

    Returns
    -------
    vector : ndarray of shape (latent_dim,)
    """
    codes = estimator.transform(X)
    mask = _check_mask(mask, len(codes))
    return codes[mask].mean(axis=0) - codes[~mask].mean(axis=0)


def shift(estimator: Any, X: Any, vector: Any, amounts: Any = _DEFAULT_AMOUNTS) -> np.ndarray:
    """Decode the codes of ``X`` moved by each multiple of ``vector``.

    Parameters
    ----------
    estimator : fitted aekit estimator
    X : array-like
        Samples shaped like the training samples.
    vector : array-like of shape (latent_dim,)
        A direction in code space, e.g. from :func:`attribute_vector`.
    amounts : sequence of float, default=(-1, -0.5, 0, 0.5, 1)
        Multiples of ``vector`` to add; 0 gives the reconstructions.

    Returns
    -------
    decoded : ndarray of shape (len(amounts), n_samples, *sample_shape)
        ``decoded[i, j]`` is row ``j`` of ``X`` moved by ``amounts[i] * vector``.
    """
    codes = estimator.transform(X)
    vector = np.asarray(vector, dtype=np.float64)
    if vector.shape != (codes.shape[1],) or not np.isfinite(vector).all():
        raise ValueError(
            f"vector must be {codes.shape[1]} finite numbers (one per code dimension, as attribute_vector "
            f"returns); got shape {vector.shape}."
        )
    amounts = np.asarray(amounts, dtype=np.float64).reshape(-1)
    if amounts.size == 0 or not np.isfinite(amounts).all():
        raise ValueError("amounts must be a non-empty sequence of finite numbers, e.g. (0, 0.5, 1).")
    moved = codes[np.newaxis] + amounts[:, np.newaxis, np.newaxis] * vector
    decoded = estimator.inverse_transform(moved.reshape(-1, codes.shape[1]).astype(codes.dtype))
    return decoded.reshape(len(amounts), len(codes), *decoded.shape[1:])
