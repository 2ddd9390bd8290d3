"""Anomaly detection from an autoencoder, with scikit-learn's outlier-detector API."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, OutlierMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from aekit.estimators.base import UNIT_INTERVAL_TOLERANCE
from aekit.uses.reconstruction import RECONSTRUCTION_METRICS, feature_errors, reconstruction_error

PROBABILISTIC_SCORES = ("elbo", "log_likelihood")
#: Squared reconstruction error plus the code's distance from the training codes (see AnomalyDetector).
ERROR_AND_CODE = "squared+code"
SCORES = (ERROR_AND_CODE, *RECONSTRUCTION_METRICS, *PROBABILISTIC_SCORES)
THRESHOLDS = ("contamination", "fpr")
#: The score of a row that cannot be scored (outside the model's range, or NaN): below every other,
#: and finite, because scikit-learn's metrics (roc_auc_score, ...) refuse infinity.
WORST_SCORE = float(np.finfo(np.float64).min)


class AnomalyDetector(OutlierMixin, MetaEstimatorMixin, BaseEstimator):
    """Flag inputs that an autoencoder trained on normal data reconstructs (or explains) badly.

    Follows scikit-learn's outlier detectors (e.g. ``IsolationForest``):
    ``score_samples`` is higher for more normal inputs, ``decision_function`` is
    negative for outliers, ``predict`` returns +1 for inliers and -1 for outliers, and
    the threshold ``offset_`` is chosen so that a ``contamination`` fraction of the
    training data falls below it, or (``threshold="fpr"``) calibrated on held-out inliers
    so that a fraction ``fpr`` of inliers is flagged.  Rows outside [0, 1] given to a
    model of that range (``loss="bce"``, ``likelihood="bernoulli"``, or
    ``score="cross_entropy"``) get the lowest score (:data:`WORST_SCORE`, the lowest
    float64), and so does any row whose score is NaN or ``-inf``: they are always
    outliers, never inliers.  :meth:`p_values` gives conformal
    p-values against those held-out scores and :meth:`feature_scores` the error of every
    column (which features make a row anomalous).

    Parameters
    ----------
    estimator : aekit estimator
        Unfitted autoencoder (cloned, then fitted on ``X``), e.g. ``aekit.AutoEncoder()``.
    contamination : float in (0, 0.5], default=0.1
        Expected fraction of outliers in the training data; sets ``offset_`` when
        ``threshold="contamination"``.
    threshold : {"contamination", "fpr"}, default="contamination"
        "fpr": hold out ``calibration_fraction`` of ``X`` (or use ``fit(X,
        X_calibration=...)``, rows known to be inliers), fit on the rest and set
        ``offset_`` so that at most a fraction ``fpr`` of the held-out scores fall below
        it: a row is flagged exactly when its conformal p-value is at most ``fpr``, so
        new inliers exchangeable with the held-out ones are flagged at rate <= ``fpr``.
    fpr : float in (0, 1), default=0.05
        Target false-positive rate of ``threshold="fpr"``.
    calibration_fraction : float in (0, 0.9], default=0.2
        Share of ``X`` held out for calibration with ``threshold="fpr"`` and no
        ``X_calibration``.
    score : str, default="squared+code"
        What makes an input normal:

        * "squared+code": minus the sum of two terms that each average 1 on the reference
          rows (the training rows, or ``X_reference``): the squared reconstruction error
          divided by its reference mean, and the squared Mahalanobis distance of the code
          (``transform``) from the reference codes divided by the code's dimension.  An
          outlier can be reconstructed well from an unusual code (the autoencoder
          generalizes beyond the data); the second term catches it, as the leading
          components do in PCA's outlier score;
        * "squared", "absolute", "cross_entropy": minus the per-sample reconstruction
          error under that metric (see :func:`aekit.metrics.reconstruction_error`);
        * "elbo" (VAE family): the deterministic ELBO of ``VAE.score_samples``;
        * "log_likelihood" (VAE family): the importance-weighted log p(x) with
          ``n_samples`` draws, in nats.
    n_samples : int, default=100
        Importance samples per input for ``score="log_likelihood"``.
    random_state : int, RandomState or None, default=None
        Seeds the importance sampling of ``score="log_likelihood"`` and the calibration split.

    Attributes
    ----------
    estimator_ : the fitted autoencoder
    offset_ : float
        ``decision_function = score_samples - offset_``.
    calibration_scores_ : ndarray
        Sorted scores that :meth:`p_values` compares with: the held-out rows' with
        ``threshold="fpr"``, else the training rows' (in-sample, so optimistic).
    reference_error_, code_mean_, code_precision_ : float, ndarray, ndarray
        With ``score="squared+code"``: the reference rows' mean squared error, and the
        mean and inverse covariance of their codes.
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
        score: str = ERROR_AND_CODE,
        n_samples: int = 100,
        random_state: Any = None,
        threshold: str = "contamination",
        fpr: float = 0.05,
        calibration_fraction: float = 0.2,
    ):
        self.estimator = estimator
        self.contamination = contamination
        self.threshold = threshold
        self.fpr = fpr
        self.calibration_fraction = calibration_fraction
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
        if self.score == ERROR_AND_CODE and not hasattr(self.estimator, "transform"):
            raise ValueError(
                f"score={self.score!r} needs an estimator with transform (its codes); "
                f"{type(self.estimator).__name__} has none. Use score='squared'."
            )
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
        if self.threshold not in THRESHOLDS:
            raise ValueError(f"threshold must be one of {list(THRESHOLDS)}; got {self.threshold!r}.")
        for name, value, high in (("fpr", self.fpr, 1.0), ("calibration_fraction", self.calibration_fraction, 0.9)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < high + (name != "fpr") * 1e-12:
                raise ValueError(f"{name} must be a number in (0, {high:g}{')' if name == 'fpr' else ']'}; got {value!r}.")
        if isinstance(self.n_samples, bool) or not isinstance(self.n_samples, numbers.Integral) or self.n_samples < 1:
            raise ValueError(f"n_samples must be an integer >= 1; got {self.n_samples!r}.")

    def fit(self, X: Any, y: Any = None, X_calibration: Any = None) -> AnomalyDetector:
        """Fit a clone of ``estimator`` on ``X`` (assumed mostly normal) and set ``offset_``. ``y`` is ignored.

        With ``threshold="fpr"`` the threshold is calibrated on ``X_calibration`` (inliers)
        when given, else on a random ``calibration_fraction`` of ``X`` kept out of training.
        """
        self._validate_params()
        if self.threshold == "fpr" and X_calibration is None:
            n = len(X)
            order = check_random_state(self.random_state).permutation(n)
            n_cal = max(1, int(round(n * self.calibration_fraction)))
            if n - n_cal < 2:
                raise ValueError(f"X has {n} rows: too few to hold out {n_cal} for calibration and train on the rest.")
            cal, train = np.sort(order[:n_cal]), np.sort(order[n_cal:])
            X, X_calibration = _rows(X, train), _rows(X, cal)
        for data in (X, X_calibration) if self.score == "cross_entropy" else ():
            outside = None if data is None else self._outside_unit_interval(data, self.estimator)
            if outside is not None and outside.any():
                raise ValueError(
                    f"score='cross_entropy' needs inputs in [0, 1], but {outside.sum()} row(s) of the data given to "
                    "fit leave that range; scale X to [0, 1] (e.g. sklearn's MinMaxScaler) or use score='squared'."
                )
        self._calibrate(clone(self.estimator).fit(X), X, X_calibration)
        return self

    @classmethod
    def from_fitted(cls, estimator: Any, X_reference: Any, **params: Any) -> AnomalyDetector:
        """A detector around an already fitted ``estimator`` (e.g. a saved model), without refitting it.

        ``X_reference`` sets the threshold: with ``threshold="contamination"`` it should be
        the data the model was trained on (a ``contamination`` fraction of it falls below
        ``offset_``); with ``threshold="fpr"`` rows known to be inliers, not used in training.
        """
        check_is_fitted(estimator)
        detector = cls(estimator, **params)
        detector._validate_params()
        detector._calibrate(estimator, X_reference, X_reference if detector.threshold == "fpr" else None)
        return detector

    def _calibrate(self, fitted: Any, X: Any, X_calibration: Any) -> None:
        """Adopt the fitted model and set ``offset_`` from the training (or calibration) scores."""
        self.estimator_ = fitted
        self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        if self.score == ERROR_AND_CODE:
            self._fit_code_reference(X)
        if self.threshold == "fpr":
            self.calibration_scores_ = np.sort(self._score(X_calibration))
            n_cal = len(self.calibration_scores_)
            k = int(np.floor(self.fpr * (n_cal + 1))) - 1  # a score below the k-th has p-value <= fpr
            self.offset_ = float(self.calibration_scores_[k]) if k >= 0 else -np.inf
        else:
            self.calibration_scores_ = np.sort(self._score(X))
            self.offset_ = float(np.percentile(self.calibration_scores_, 100.0 * self.contamination))

    def _fit_code_reference(self, X: Any) -> None:
        """The statistics of ``score="squared+code"`` from the reference rows that can be scored."""
        outside = self._outside_unit_interval(X, self.estimator_)
        if outside is not None:
            if outside.all():
                raise ValueError("every reference row leaves the model's [0, 1] range; none can set the threshold.")
            X = _rows(X, np.flatnonzero(~outside))
        errors = self._reconstruction_errors(X)
        codes = np.asarray(self.estimator_.transform(X), dtype=np.float64).reshape(len(errors), -1)
        finite = np.isfinite(errors) & np.isfinite(codes).all(axis=1)
        if finite.sum() < 2:
            raise ValueError("fewer than 2 reference rows have a finite error and code; pass more (normal) rows.")
        errors, codes = errors[finite], codes[finite]
        self.reference_error_ = max(float(errors.mean()), np.finfo(np.float64).tiny)
        self.code_mean_ = codes.mean(axis=0)
        covariance = np.atleast_2d(np.cov(codes, rowvar=False))
        # A small ridge keeps collapsed (constant) code dimensions from dividing by zero.
        ridge = 1e-6 * max(float(np.trace(covariance)) / len(covariance), 1e-12)
        self.code_precision_ = np.linalg.inv(covariance + ridge * np.eye(len(covariance)))

    def _reconstruction_errors(self, X: Any) -> np.ndarray:
        if hasattr(self.estimator_, "column_errors"):
            return self.estimator_.reconstruction_error(X)
        return reconstruction_error(self.estimator_, X, metric="squared")

    def _error_and_code_score(self, X: Any) -> np.ndarray:
        errors = self._reconstruction_errors(X)
        offsets = np.asarray(self.estimator_.transform(X), dtype=np.float64).reshape(len(errors), -1) - self.code_mean_
        distances = np.einsum("ij,jk,ik->i", offsets, self.code_precision_, offsets)
        return -(errors / self.reference_error_ + distances / len(self.code_mean_))

    def p_values(self, X: Any) -> np.ndarray:
        """Conformal p-value of each row under "it is an inlier": ``(1 + #{calibration scores
        <= score}) / (n_calibration + 1)``, shape (n,).  Small = unusually anomalous; for
        inliers exchangeable with the calibration rows, P(p <= a) <= a."""
        scores = self.score_samples(X)
        below = np.searchsorted(self.calibration_scores_, scores, side="right")
        return (1.0 + below) / (len(self.calibration_scores_) + 1.0)

    def predict_proba(self, X: Any) -> np.ndarray:
        """PyOD-style (n, 2) array: column 0 the p-value of being an inlier (:meth:`p_values`),
        column 1 its complement.  A p-value, not a calibrated probability of being an outlier."""
        p = self.p_values(X)
        return np.column_stack([p, 1.0 - p])

    def feature_scores(self, X: Any) -> Any:
        """Per-feature reconstruction errors, higher = worse (which columns make a row anomalous).

        A table estimator (:class:`aekit.TabularAutoEncoder`) gives a DataFrame of its
        per-column loss terms (each row sums to the row's error); the others give the
        per-feature error under ``score`` ("squared" for "squared+code", whose code term
        belongs to no single feature, and for the probabilistic scores) as an
        array (n, n_features), or a DataFrame with the columns of a DataFrame ``X``.
        """
        check_is_fitted(self)
        if hasattr(self.estimator_, "column_errors"):
            return self.estimator_.column_errors(X)
        metric = self.score if self.score in RECONSTRUCTION_METRICS else "squared"  # squared+code: its error part
        errors = feature_errors(self.estimator_, X, metric)
        if hasattr(X, "columns") and errors.shape[1] == len(X.columns):
            import pandas as pd

            return pd.DataFrame(errors, columns=list(X.columns), index=X.index)
        return errors

    def _score(self, X: Any) -> np.ndarray:
        """Scores of the rows; those outside the model's [0, 1] range, NaN and -inf get :data:`WORST_SCORE`."""
        outside = self._outside_unit_interval(X, self.estimator_)
        if outside is None or not outside.any():
            scores = self._model_score(X)
        else:
            scores = np.full(len(outside), WORST_SCORE)
            if not outside.all():
                scores[~outside] = self._model_score(_rows(X, np.flatnonzero(~outside)))
        return np.nan_to_num(scores, nan=WORST_SCORE, neginf=WORST_SCORE)

    def _outside_unit_interval(self, X: Any, estimator: Any) -> np.ndarray | None:
        """Per row, whether it leaves [0, 1] where the model or the score needs that range (else None)."""
        unit_model = getattr(estimator, "_unit_interval_setting", lambda: None)() is not None
        if not unit_model and self.score != "cross_entropy":
            return None
        try:
            flat = np.asarray(X, dtype=np.float64)
            flat = flat.reshape(len(flat), -1)
        except (TypeError, ValueError):
            return None  # not numbers: the estimator's own checks say what is wrong
        with np.errstate(invalid="ignore"):
            return ((flat < -UNIT_INTERVAL_TOLERANCE) | (flat > 1 + UNIT_INTERVAL_TOLERANCE)).any(axis=1)

    def _model_score(self, X: Any) -> np.ndarray:
        if self.score == ERROR_AND_CODE:
            return self._error_and_code_score(X)
        if hasattr(self.estimator_, "column_errors") and self.score in RECONSTRUCTION_METRICS:
            if self.score != "squared":
                raise ValueError(
                    f"score={self.score!r} is for numeric arrays; a table model scores its per-column losses "
                    "(score='squared', or 'elbo' for a TabularVAE)."
                )
            return -self.estimator_.reconstruction_error(X)
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
        """+1 for inliers, -1 for outliers (a row is an inlier only if its score is at least ``offset_``)."""
        return np.where(self.decision_function(X) >= 0, 1, -1)


def _rows(X: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of an array or a DataFrame."""
    return X.iloc[index] if hasattr(X, "iloc") else np.asarray(X)[index]
