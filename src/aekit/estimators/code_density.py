"""Sampling from deterministic autoencoders through a density fitted on their codes.

A deterministic autoencoder has no prior to sample from, so after training a
Gaussian mixture (full covariances) is fitted to the codes of the training data;
new samples are decoded draws from that mixture.  The mixture is kept as plain
arrays (weights, means, covariances) so that it is saved in the model file with the
weights and needs no pickling.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

MAX_CODES_FOR_DENSITY = 10_000  # the mixture is for sampling; more codes only cost time
DEFAULT_COMPONENTS = 10


def fit_code_density(
    codes: np.ndarray, n_components: int = DEFAULT_COMPONENTS, random_state: Any = None
) -> dict[str, np.ndarray]:
    """Fit a full-covariance Gaussian mixture to ``codes`` (n, latent_dim).

    Returns the arrays ``weights`` (k,), ``means`` (k, d) and ``covariances`` (k, d, d),
    with ``k = min(n_components, n)``.
    """
    # Imported here: sklearn.mixture (with sklearn.cluster and .neighbors) is ~0.4 s of every start-up
    # that loads a model, such as `aekit encode`, which never fits or samples a mixture.
    from sklearn.mixture import GaussianMixture

    codes = np.asarray(codes, dtype=np.float64)
    mixture = GaussianMixture(
        n_components=min(n_components, codes.shape[0]), covariance_type="full", random_state=random_state
    )
    # Matrices of latent_dim columns are too small to gain from BLAS threads, and on a
    # busy machine spinning threads made this fit 15x slower (measured: 17 s vs 1.1 s).
    # An EM run stopped at max_iter still gives a usable density to sample from, so its
    # convergence warning would only alarm users who never asked for a mixture.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(codes)
    return {"weights": mixture.weights_, "means": mixture.means_, "covariances": mixture.covariances_}


def sample_code_density(
    weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, n_samples: int, random_state: Any = None
) -> np.ndarray:
    """Draw ``n_samples`` codes from the mixture given by its arrays, shape (n_samples, d)."""
    from sklearn.mixture import GaussianMixture

    mixture = GaussianMixture(n_components=len(weights), covariance_type="full", random_state=random_state)
    mixture.weights_, mixture.means_, mixture.covariances_ = weights, means, covariances
    codes, _ = mixture.sample(n_samples)
    # GaussianMixture.sample returns the draws grouped by component; shuffle them.
    return codes[check_random_state(random_state).permutation(n_samples)]
