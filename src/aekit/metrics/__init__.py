"""Evaluation functions: reconstruction, likelihood, detection, representation, clustering.

Metrics that need a model take a fitted estimator and data; the others take codes
(``est.transform(X)``), labels or scores, so they apply to any representation (PCA's
too).  Each wraps scikit-learn or SciPy where they already do the job.
"""

from aekit.metrics.clustering import ari, clustering_accuracy, kmeans_clustering_scores, nmi
from aekit.metrics.detection import auroc, average_precision
from aekit.metrics.likelihood import active_units, elbo, kl_per_dimension, log_likelihood
from aekit.uses.reconstruction import RECONSTRUCTION_METRICS, reconstruction_error
from aekit.metrics.representation import knn_accuracy, linear_probe_accuracy, trustworthiness

__all__ = [
    "RECONSTRUCTION_METRICS",
    "active_units",
    "ari",
    "auroc",
    "average_precision",
    "clustering_accuracy",
    "elbo",
    "kl_per_dimension",
    "kmeans_clustering_scores",
    "knn_accuracy",
    "linear_probe_accuracy",
    "log_likelihood",
    "nmi",
    "reconstruction_error",
    "trustworthiness",
]
