"""How useful codes are: linear-probe and k-NN accuracy, trustworthiness."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import trustworthiness as _sklearn_trustworthiness
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def _held_out_accuracy(
    classifier: Any, Z: Any, y: Any, Z_test: Any, y_test: Any, test_size: float, random_state: Any
) -> float:
    if (Z_test is None) != (y_test is None):
        raise ValueError("Pass both Z_test and y_test, or neither (then a stratified split of Z is held out).")
    if Z_test is None:
        Z, Z_test, y, y_test = train_test_split(Z, y, test_size=test_size, stratify=y, random_state=random_state)
    return float(classifier.fit(Z, y).score(Z_test, y_test))


def linear_probe_accuracy(
    Z: Any, y: Any, Z_test: Any = None, y_test: Any = None, *, test_size: float = 0.25,
    C: float = 1.0, max_iter: int = 1000, random_state: Any = 0,
) -> float:
    """Held-out accuracy of a logistic regression on standardized codes.

    Trains on ``(Z, y)`` and scores on ``(Z_test, y_test)``; without a test set a
    stratified ``test_size`` fraction of ``Z`` is held out.
    """
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    return _held_out_accuracy(probe, Z, y, Z_test, y_test, test_size, random_state)


def knn_accuracy(
    Z: Any, y: Any, Z_test: Any = None, y_test: Any = None, *, n_neighbors: int = 5,
    test_size: float = 0.25, random_state: Any = 0,
) -> float:
    """Held-out accuracy of a k-nearest-neighbour classifier (Euclidean) on the codes, same splits as the probe."""
    return _held_out_accuracy(KNeighborsClassifier(n_neighbors=n_neighbors), Z, y, Z_test, y_test, test_size, random_state)


def trustworthiness(X: Any, Z: Any, n_neighbors: int = 5) -> float:
    """How well the codes ``Z`` keep the nearest neighbours of ``X`` (1 = perfectly), via scikit-learn.

    ``X`` may have any sample shape; it is flattened.
    """
    X = np.asarray(X)
    return float(_sklearn_trustworthiness(X.reshape(X.shape[0], -1), np.asarray(Z), n_neighbors=n_neighbors))
