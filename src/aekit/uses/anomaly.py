"""Anomaly detection from an autoencoder, with scikit-learn's outlier-detector API."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, OutlierMixin, clone
from sklearn.utils.validation import check_is_fitted

from aekit.uses.reconstruction import RECONSTRUCTION_METRICS, reconstruction_error

PROBABILISTIC_SCORES = ("elbo", "log_likelihood")
SCORES = (*RECONSTRUCTION_METRICS, *PROBABILISTIC_SCORES)


class AnomalyDetector(OutlierMixin, MetaEstimatorMixin, BaseEstimator):
    """Flag inputs that an autoencoder trained on normal data reconstructs (or explains) badly.

    Follows scikit-learn's outlier detectors (e.g. ``IsolationForest``):
    ``score_samples`` is higher for more normal inputs, ``decision_function`` is
    negative for outliers, ``predict`` returns +1 for inliers and -1 for outliers, and
    the threshold ``offset_`` is chosen so that a ``contamination`` fraction of the
    training data falls below it.

    Parameters
    ----------
    estimator : aekit estimator
        Unfitted autoencoder (cloned, then fitted on ``X``), e.g. ``aekit.AutoEncoder()``.
    contamination : float in (0, 0.5], default=0.1
        Expected fraction of outliers in the training data; sets ``offset_``.
    score : str, default="squared"
        What makes an input normal:

        * "squared", "absolute", "cross_entropy": minus the per-sample reconstruction
          error under that metric (see :func:`aekit.metrics.reconstruction_error`);
        * "elbo" (VAE family): the deterministic ELBO of ``VAE.score_samples``;
        * "log_likelihood" (VAE family): the importance-weighted log p(x) with
          ``n_samples`` draws, in nats.
    n_samples : int, default=100
        Importance samples per input for ``score="log_likelihood"``.
    random_state : int, RandomState or None, default=None
        Seeds the importance sampling of ``score="log_likelihood"``.

    Attributes
    ----------
    estimator_ : the fitted autoencoder
    offset_ : float
        ``decision_function = score_samples - offset_``.
    n_features_in_ : int

    Examples
    --------
    >>> import aekit
    >>> X, y = aekit.datasets.load_digits()
    >>> detector = aekit.AnomalyDetector(aekit.AutoEncoder(epochs=5, random_state=0)).fit(X[y == 0])
    >>> detector.predict(X[:4]).tolist()  # doctest: +SKIP
    [1, -1, -1, -1]
    """

    def __init__(
        self,
        estimator: Any,
        contamination: float = 0.1,
        score: str = "squared",
        n_samples: int = 100,
        random_state: Any = None,
    ):
        self.estimator = estimator
        self.contamination = contamination
        self.score = score
        self.n_samples = n_samples
        self.random_state = random_state

    def _validate_params(self) -> None:
        if not (hasattr(self.estimator, "fit") and hasattr(self.estimator, "reconstruct")):
            raise TypeError(
                f"estimator must be an aekit autoencoder (with fit and reconstruct); got {self.estimator!r}."
            )
        if self.score not in SCORES:
            raise ValueError(f"score must be one of {list(SCORES)}; got {self.score!r}.")
        if self.score in PROBABILISTIC_SCORES and not hasattr(self.estimator, "log_likelihood"):
            raise ValueError(
                f"score={self.score!r} needs a VAE-family estimator; {type(self.estimator).__name__} "
                "is deterministic. Use a reconstruction score such as score='squared'."
            )
        contamination_ok = (
            isinstance(self.contamination, numbers.Real)
            and not isinstance(self.contamination, bool)
            and 0 < self.contamination <= 0.5
        )
        if not contamination_ok:
            raise ValueError(f"contamination must be a number in (0, 0.5]; got {self.contamination!r}.")
        if isinstance(self.n_samples, bool) or not isinstance(self.n_samples, numbers.Integral) or self.n_samples < 1:
            raise ValueError(f"n_samples must be an integer >= 1; got {self.n_samples!r}.")

    def fit(self, X: Any, y: Any = None) -> AnomalyDetector:
        """Fit a clone of ``estimator`` on ``X`` (assumed mostly normal) and set ``offset_``. ``y`` is ignored."""
        self._validate_params()
        self.estimator_ = clone(self.estimator).fit(X)
        self.n_features_in_ = self.estimator_.n_features_in_
        self.offset_ = float(np.percentile(self._score(X), 100.0 * self.contamination))
        return self

    def _score(self, X: Any) -> np.ndarray:
        if self.score == "elbo":
            return self.estimator_.score_samples(X)
        if self.score == "log_likelihood":
            return self.estimator_.log_likelihood(X, n_samples=self.n_samples, random_state=self.random_state)
        return -reconstruction_error(self.estimator_, X, metric=self.score)

    def score_samples(self, X: Any) -> np.ndarray:
        """Normality of each input, shape (n,): higher = more normal."""
        check_is_fitted(self)
        return self._score(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers."""
        return np.where(self.decision_function(X) < 0, -1, 1)
