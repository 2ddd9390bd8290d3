"""Bundled and synthetic datasets with known structure, and the MNIST file loader."""

from __future__ import annotations

import os

import numpy as np
from sklearn.utils import check_random_state

from aekit.data.loading import load_data


def load_digits(images: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits scaled to [0, 1] (1797 samples, labels 0-9).

    Returns ``X`` as float32 images (n, 8, 8), or (n, 64) with ``images=False``, and ``y``.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    X = (bunch.images / 16.0).astype(np.float32)
    return (X if images else X.reshape(len(X), -1)), bunch.target.astype(np.int64)


def default_mnist_path() -> str:
    """``$AEKIT_MNIST`` if set, else ``../shared/data/mnist.npz`` relative to the working folder."""
    return os.environ.get("AEKIT_MNIST", os.path.join("..", "shared", "data", "mnist.npz"))


def load_mnist(
    path: str | os.PathLike | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from an ``.npz`` with x_train/y_train/x_test/y_test, pixels scaled to [0, 1].

    ``split`` is "train" (60k), "test" (10k) or "all" (70k).  Returns float32 images
    (n, 28, 28) and int64 labels.
    """
    data = load_data(path or default_mnist_path())
    if data.X_test is None or data.y is None or data.y_test is None:
        raise ValueError(f"{path} does not have the MNIST layout (x_train, y_train, x_test, y_test).")
    parts = {"train": [(data.X, data.y)], "test": [(data.X_test, data.y_test)]}
    parts["all"] = parts["train"] + parts["test"]
    if split not in parts:
        raise ValueError(f"split must be 'train', 'test' or 'all'; got {split!r}.")
    X = np.concatenate([x for x, _ in parts[split]]).astype(np.float32) / np.float32(255)
    y = np.concatenate([y for _, y in parts[split]]).astype(np.int64)
    return X, y


def make_linear_manifold(
    n_samples: int = 1000,
    n_features: int = 20,
    latent_dim: int = 2,
    noise: float = 0.0,
    random_state=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Points on a random ``latent_dim``-dimensional linear subspace of R^n_features.

    Returns ``X`` (n_samples, n_features) and the true latent coordinates
    (n_samples, latent_dim); ``noise`` adds isotropic Gaussian noise of that std.
    """
    rng = check_random_state(random_state)
    latent = rng.standard_normal((n_samples, latent_dim))
    basis, _ = np.linalg.qr(rng.standard_normal((n_features, latent_dim)))
    X = latent @ basis.T + noise * rng.standard_normal((n_samples, n_features))
    return X.astype(np.float32), latent.astype(np.float32)
