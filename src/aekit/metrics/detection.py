"""Anomaly-detection quality from scores (scikit-learn's ranking metrics)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def auroc(is_anomaly: np.ndarray, anomaly_score: np.ndarray) -> float:
    """Area under the ROC curve; ``is_anomaly`` is 1/True for anomalies, ``anomaly_score`` higher = more anomalous.

    0.5 is chance.  With an :class:`aekit.AnomalyDetector` pass ``-detector.score_samples(X)``.
    """
    return float(roc_auc_score(np.asarray(is_anomaly).astype(bool), anomaly_score))


def average_precision(is_anomaly: np.ndarray, anomaly_score: np.ndarray) -> float:
    """Average precision of retrieving the anomalies by ``anomaly_score`` (chance = anomaly fraction)."""
    return float(average_precision_score(np.asarray(is_anomaly).astype(bool), anomaly_score))
