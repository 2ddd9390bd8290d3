"""Evaluation functions: reconstruction, likelihood, detection, representation, clustering,
disentanglement and the quality of generated samples.

Metrics that need a model take a fitted estimator and data; the others take codes
(``est.transform(X)``), labels or scores, so they apply to any representation (PCA's
too).  Each wraps scikit-learn or SciPy where they already do the job.
"""

from aekit.metrics.clustering import ari, clustering_accuracy, kmeans_clustering_scores, match_clusters, nmi
from aekit.metrics.detection import auroc, average_precision
from aekit.metrics.disentanglement import (
    DCIScores,
    FactorGridSampler,
    FactorVAEScores,
    dci,
    factor_grid_sampler,
    factor_vae_score,
    gaussian_total_correlation,
    independent_factor_sampler,
    mig,
    sap,
)
from aekit.metrics.likelihood import active_dimensions, active_units, elbo, kl_per_dimension, log_likelihood
from aekit.uses.reconstruction import RECONSTRUCTION_METRICS, reconstruction_error
from aekit.metrics.representation import knn_accuracy, linear_probe_accuracy, trustworthiness
from aekit.metrics.generative import (
    FeatureSpace,
    conditional_sample_accuracy,
    fit_feature_extractor,
    frechet_distance,
    precision_recall,
    sample_quality,
)

__all__ = [
    "DCIScores",
    "FactorGridSampler",
    "FactorVAEScores",
    "FeatureSpace",
    "RECONSTRUCTION_METRICS",
    "active_dimensions",
    "active_units",
    "ari",
    "auroc",
    "average_precision",
    "clustering_accuracy",
    "conditional_sample_accuracy",
    "dci",
    "elbo",
    "factor_grid_sampler",
    "factor_vae_score",
    "fit_feature_extractor",
    "frechet_distance",
    "gaussian_total_correlation",
    "independent_factor_sampler",
    "kl_per_dimension",
    "kmeans_clustering_scores",
    "knn_accuracy",
    "linear_probe_accuracy",
    "log_likelihood",
    "match_clusters",
    "mig",
    "nmi",
    "precision_recall",
    "reconstruction_error",
    "sample_quality",
    "sap",
    "trustworthiness",
]
