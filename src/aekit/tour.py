"""``aekit tour``: train PCA and autoencoders side by side on one dataset and compare them."""

from __future__ import annotations

import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

import aekit
from aekit.data.loading import load_data
from aekit.data.preprocessing import Preprocessing


def load_tour_data(path: str | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, str]:
    """Train/test arrays (scaled for the models), labels when known, and a dataset name."""
    if path is None:
        X, y = aekit.datasets.load_digits()
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
        return X_train, X_test, y_train, y_test, "scikit-learn digits (8x8)"
    loaded = load_data(path)
    preprocessing = Preprocessing.fit(loaded.X, loaded.kind)
    if loaded.X_test is not None:
        return (
            preprocessing.apply(loaded.X),
            preprocessing.apply(loaded.X_test),
            loaded.y,
            loaded.y_test,
            str(path),
        )
    X = preprocessing.apply(loaded.X)
    split = train_test_split(np.arange(len(X)), test_size=0.2, random_state=seed)
    y = loaded.y
    return (
        X[split[0]],
        X[split[1]],
        None if y is None else y[split[0]],
        None if y is None else y[split[1]],
        str(path),
    )


def run_tour(data: str | None = None, out: str = "aekit-tour", quick: bool = False) -> dict:
    """Fit PCA, AutoEncoder and VAE; print and return test reconstruction error and fit time."""
    X_train, X_test, _, _, name = load_tour_data(data)
    latent_dim = 8
    epochs = 5 if quick else 60
    flat = lambda X: X.reshape(len(X), -1)  # noqa: E731
    results = []

    started = time.perf_counter()
    pca = PCA(n_components=latent_dim, random_state=0).fit(flat(X_train))
    pca_error = ((pca.inverse_transform(pca.transform(flat(X_test))) - flat(X_test)) ** 2).sum(1).mean()
    results.append(("PCA", pca_error, time.perf_counter() - started))

    for label, est in (
        ("AutoEncoder", aekit.AutoEncoder(latent_dim=latent_dim, epochs=epochs, loss="bce", random_state=0, verbose=1)),
        ("VAE", aekit.VAE(latent_dim=latent_dim, epochs=epochs, random_state=0, verbose=1)),
    ):
        started = time.perf_counter()
        est.fit(X_train)
        results.append((label, est.reconstruction_error(X_test).mean(), time.perf_counter() - started))

    print(f"\naekit tour on {name}: {len(X_train)} train / {len(X_test)} test samples, latent_dim={latent_dim}")
    print(f"{'model':<14}{'test squared error / sample':>30}{'fit seconds':>14}")
    for label, error, seconds in results:
        print(f"{label:<14}{error:>30.4f}{seconds:>14.1f}")
    return {label: {"test_squared_error": float(e), "fit_seconds": s} for label, e, s in results}
