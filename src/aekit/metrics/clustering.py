"""Clustering quality of codes: accuracy under the best label matching, NMI, ARI."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix


def clustering_accuracy(y_true: Any, y_pred: Any) -> float:
    """Accuracy of cluster labels under the best one-to-one matching of clusters to classes.

    The matching maximizes agreement (Hungarian algorithm, as in DEC, Xie et al. 2016);
    clusters left unmatched when there are more clusters than classes count as errors.
    """
    counts, rows, cols = _best_matching(y_true, y_pred)
    return float(counts[rows, cols].sum() / counts.sum())


def match_clusters(y_true: Any, y_pred: Any) -> dict[Any, Any]:
    """The class each cluster stands for under the best one-to-one matching (as in
    :func:`clustering_accuracy`): ``{cluster: class}``.

    Clusters left unmatched, when there are more clusters than classes, are not in it.
    """
    counts, rows, cols = _best_matching(y_true, y_pred)
    classes, clusters = np.unique(y_true), np.unique(y_pred)  # the contingency matrix's row and column order
    return {clusters[c].item(): classes[r].item() for r, c in zip(rows, cols)}


def _best_matching(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The contingency matrix (classes x clusters) and the rows and columns of its maximal one-to-one matching."""
    counts = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return counts, rows, cols


def nmi(y_true: Any, y_pred: Any) -> float:
    """Normalized mutual information between classes and clusters (scikit-learn, arithmetic mean)."""
    return float(normalized_mutual_info_score(y_true, y_pred))


def ari(y_true: Any, y_pred: Any) -> float:
    """Adjusted Rand index between classes and clusters (scikit-learn)."""
    return float(adjusted_rand_score(y_true, y_pred))


def kmeans_clustering_scores(
    Z: Any, y: Any, n_clusters: int | None = None, n_init: int = 10, random_state: Any = 0
) -> dict[str, float]:
    """k-means on the codes ``Z`` (k = number of classes by default), scored against ``y``.

    Returns ``{"accuracy", "nmi", "ari"}``.
    """
    y = np.asarray(y)
    k = len(np.unique(y)) if n_clusters is None else n_clusters
    labels = KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit_predict(np.asarray(Z))
    return {"accuracy": clustering_accuracy(y, labels), "nmi": nmi(y, labels), "ari": ari(y, labels)}
