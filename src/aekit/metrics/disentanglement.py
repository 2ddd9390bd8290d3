"""Disentanglement of codes against known factors of variation: MIG, DCI, SAP, FactorVAE score, TC.

The definitions follow disentanglement_lib (Locatello et al. 2019, "Challenging common
assumptions in the unsupervised learning of disentangled representations"), which is
what most published numbers were computed with; each function says where it departs.

The supervised metrics take ``codes`` (n, latent_dim), e.g. ``est.transform(X)``, and
the true ``factors`` (n, n_factors) of the same samples.  They treat factors as
categories: a factor column with at most ``max_factor_values`` distinct values (dSprites'
largest has 40) is used as it is, a column with more is cut into ``n_bins`` equal-width
bins, as disentanglement_lib does for continuous values.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, NamedTuple

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import mutual_info_score
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state

_Seed = int | np.random.RandomState | None

# disentanglement_lib draws 10000 training and 5000 test points for DCI and SAP.
_TEST_SIZE = 1 / 3
_MAX_FACTOR_VALUES = 64
_N_BINS = 20
# A split-based score needs a few samples on each side of the split.
_MIN_SPLIT_SAMPLES = 4
# Rows encoded per call in factor_vae_score: several fixed-factor batches go through the
# encoder together, which is much faster for a torch model than one call per batch.
_ROWS_PER_ENCODE = 4096


class DCIScores(NamedTuple):
    """The three scores of Eastwood & Williams (2018), and the importances they come from."""

    disentanglement: float
    """Mean over code dims, weighted by total importance, of 1 - entropy of the dim's importances over factors."""
    completeness: float
    """Mean over factors, weighted by total importance, of 1 - entropy of the factor's importances over code dims."""
    informativeness: float
    """Mean over factors of the boosted trees' test accuracy (higher is better)."""
    importance: np.ndarray
    """Importance of each code dim (rows) for predicting each factor (columns), shape (latent_dim, n_factors)."""


class FactorVAEScores(NamedTuple):
    """Accuracies of the majority-vote classifier of Kim & Mnih (2018)."""

    train_accuracy: float
    eval_accuracy: float
    """The FactorVAE score as usually reported: accuracy on votes not used to fit the classifier."""
    n_active_dims: int
    """Code dims left after pruning the collapsed ones."""


# ---------------------------------------------------------------- input checks
def _check_codes(codes: Any, name: str = "codes") -> np.ndarray:
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (n_samples, latent_dim); got shape {codes.shape}. "
            "Reshape a single dimension with codes[:, None]."
        )
    if not np.isfinite(codes).all():
        raise ValueError(f"{name} contain NaN or infinite values; check the encoder's output.")
    return codes


def _check_codes_and_factors(codes: Any, factors: Any, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    codes = _check_codes(codes)
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2:
        raise ValueError(
            f"factors must be a 2-D array (n_samples, n_factors); got shape {factors.shape}. "
            "Pass a single factor as factors[:, None]."
        )
    if not np.isfinite(factors).all():
        raise ValueError("factors contain NaN or infinite values; drop or fill those samples.")
    if len(codes) != len(factors):
        raise ValueError(
            f"codes and factors must describe the same samples; got {len(codes)} rows of codes "
            f"and {len(factors)} rows of factors."
        )
    if len(codes) < min_samples:
        raise ValueError(f"need at least {min_samples} samples; got {len(codes)}.")
    return codes, factors


def _check_at_least_two(count: int, what: str, metric: str) -> None:
    if count < 2:
        raise ValueError(f"{metric} compares {what}, so it needs at least 2 of them; got {count}.")


def _check_bins(n_bins: int, max_factor_values: int) -> None:
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2; got {n_bins}.")
    if max_factor_values < 2:
        raise ValueError(f"max_factor_values must be at least 2; got {max_factor_values}.")


# ---------------------------------------------------------------- discretization
def _equal_width_bins(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index (1..n_bins) of each value in n_bins equal-width bins spanning its range.

    disentanglement_lib's ``_histogram_discretize``: the bins of ``np.histogram``, the
    maximum going into the last bin.
    """
    edges = np.histogram_bin_edges(values, bins=n_bins)
    return np.digitize(values, edges[:-1])


def _discretize_codes(codes: np.ndarray, n_bins: int) -> np.ndarray:
    return np.stack([_equal_width_bins(column, n_bins) for column in codes.T], axis=1)


def _factor_labels(factors: np.ndarray, n_bins: int, max_factor_values: int) -> np.ndarray:
    """Integer categories per factor column: its distinct values, or bins if it has too many."""
    labels = []
    for index, column in enumerate(factors.T):
        values, categories = np.unique(column, return_inverse=True)
        if len(values) < 2:
            raise ValueError(
                f"factor column {index} takes a single value ({values[0]}), so nothing can be "
                "predicted about it; drop that column."
            )
        labels.append(categories if len(values) <= max_factor_values else _equal_width_bins(column, n_bins))
    return np.stack(labels, axis=1)


def _split(
    codes: np.ndarray, labels: np.ndarray, test_size: float, random_state: _Seed
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    codes_train, codes_test, labels_train, labels_test = train_test_split(
        codes, labels, test_size=test_size, random_state=random_state
    )
    for index, column in enumerate(labels_train.T):
        if len(np.unique(column)) < 2:
            raise ValueError(
                f"factor column {index} takes a single value in the training part of the split; "
                "pass more samples (or a smaller test_size)."
            )
    return codes_train, codes_test, labels_train, labels_test


def _normalized_entropy(weights: np.ndarray) -> float:
    """Entropy of weights / weights.sum() in base len(weights): 0 if one-hot, 1 if uniform (and if all zero)."""
    total = weights.sum()
    if total == 0:
        return 1.0
    p = weights[weights > 0] / total
    return float(-(p * np.log(p)).sum() / np.log(len(weights)))


# ---------------------------------------------------------------- MIG
def mig(
    codes: Any, factors: Any, n_bins: int = _N_BINS, max_factor_values: int = _MAX_FACTOR_VALUES
) -> float:
    """Mutual Information Gap (Chen et al. 2018), as computed by disentanglement_lib.

    Each code dim is cut into ``n_bins`` equal-width bins; for each factor ``k`` the
    discrete mutual information ``I(z_j; v_k)`` with every code dim ``j`` is taken, and
    the gap between the largest and second largest, divided by the factor's entropy
    ``H(v_k)``, is averaged over factors:

    ``MIG = mean_k (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k)``.

    1 means each factor is captured by one code dim and by no other; a factor captured
    equally by two dims scores 0 however well it is captured.

    Parameters
    ----------
    codes : array-like of shape (n_samples, latent_dim)
        Representations, at least two dims.
    factors : array-like of shape (n_samples, n_factors)
        True factor values of the same samples.
    n_bins : int, default=20
        Equal-width bins per code dim (and per factor with more than ``max_factor_values`` values).
    max_factor_values : int, default=64
        Factor columns with at most this many distinct values are used as categories.

    Returns
    -------
    float
        In [0, 1]; higher is more disentangled.
    """
    codes, factors = _check_codes_and_factors(codes, factors, min_samples=2)
    _check_at_least_two(codes.shape[1], "the two code dims most informative of a factor", "MIG")
    _check_bins(n_bins, max_factor_values)
    binned_codes = _discretize_codes(codes, n_bins)
    labels = _factor_labels(factors, n_bins, max_factor_values)
    gaps = []
    for factor in labels.T:
        information = np.sort([mutual_info_score(code, factor) for code in binned_codes.T])
        gaps.append((information[-1] - information[-2]) / mutual_info_score(factor, factor))
    return float(np.mean(gaps))


# ---------------------------------------------------------------- DCI
def dci(
    codes: Any,
    factors: Any,
    *,
    test_size: float = _TEST_SIZE,
    n_estimators: int = 100,
    n_bins: int = _N_BINS,
    max_factor_values: int = _MAX_FACTOR_VALUES,
    random_state: _Seed = 0,
) -> DCIScores:
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    As disentanglement_lib: one gradient-boosted tree classifier per factor predicts
    the factor from all code dims; its feature importances fill the importance matrix
    ``R`` (code dims x factors).  With ``P_jk = R_jk / sum_k R_jk``, code dim ``j`` is
    disentangled by ``D_j = 1 - H_K(P_j.)`` (entropy in base K = number of factors), and
    ``D = sum_j rho_j D_j`` with ``rho_j = sum_k R_jk / sum_jk R_jk``.  Completeness is the
    same over the other axis (entropy in base latent_dim, weighted by each factor's share).
    Informativeness is the mean test accuracy of the classifiers; the paper reports a
    prediction error instead.

    Parameters
    ----------
    codes : array-like of shape (n_samples, latent_dim)
        Representations, at least two dims.
    factors : array-like of shape (n_samples, n_factors)
        True factor values, at least two factors.
    test_size : float, default=1/3
        Fraction held out to measure informativeness (disentanglement_lib: 10000 train, 5000 test).
    n_estimators : int, default=100
        Boosting stages per classifier (scikit-learn's default, as disentanglement_lib).
        Each stage fits one tree per class, so factors with many values are slow.
    n_bins : int, default=20
        Bins for factors with more than ``max_factor_values`` distinct values.
    max_factor_values : int, default=64
        Factor columns with at most this many distinct values are used as categories.
    random_state : int, RandomState or None, default=0
        Seeds the split and the trees.

    Returns
    -------
    DCIScores
        ``disentanglement`` and ``completeness`` in [0, 1] (higher is better),
        ``informativeness`` (test accuracy) and the ``importance`` matrix.
    """
    codes, factors = _check_codes_and_factors(codes, factors, min_samples=_MIN_SPLIT_SAMPLES)
    _check_at_least_two(codes.shape[1], "how importance spreads over code dims", "DCI")
    _check_at_least_two(factors.shape[1], "how importance spreads over factors", "DCI")
    _check_bins(n_bins, max_factor_values)
    labels = _factor_labels(factors, n_bins, max_factor_values)
    codes_train, codes_test, labels_train, labels_test = _split(codes, labels, test_size, random_state)
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    accuracies = []
    for k in range(factors.shape[1]):
        trees = GradientBoostingClassifier(n_estimators=n_estimators, random_state=random_state)
        trees.fit(codes_train, labels_train[:, k])
        importance[:, k] = np.abs(trees.feature_importances_)
        accuracies.append(trees.score(codes_test, labels_test[:, k]))
    return DCIScores(
        disentanglement=_weighted_one_minus_entropy(importance),
        completeness=_weighted_one_minus_entropy(importance.T),
        informativeness=float(np.mean(accuracies)),
        importance=importance,
    )


def _weighted_one_minus_entropy(importance: np.ndarray) -> float:
    """sum_j rho_j (1 - H(P_j.)) over the rows j of an importance matrix (DCI's D; C on the transpose)."""
    total = importance.sum()
    # All-zero importances (no tree could split) weigh the rows equally, as disentanglement_lib does.
    weights = importance.sum(axis=1) / total if total > 0 else np.full(len(importance), 1 / len(importance))
    return float(sum(w * (1 - _normalized_entropy(row)) for w, row in zip(weights, importance)))


# ---------------------------------------------------------------- SAP
def sap(
    codes: Any,
    factors: Any,
    *,
    continuous_factors: bool = False,
    test_size: float = _TEST_SIZE,
    n_bins: int = _N_BINS,
    max_factor_values: int = _MAX_FACTOR_VALUES,
    random_state: _Seed = 0,
) -> float:
    """Separated Attribute Predictability (Kumar et al. 2018), as computed by disentanglement_lib.

    A score matrix ``S`` (code dims x factors) holds how well each single code dim
    predicts each factor; SAP is the mean over factors of the gap between the best and
    second best dim.  For categorical factors (the default) ``S_jk`` is the test
    accuracy of a linear SVM (``C=0.01``, balanced class weights) fitted on dim ``j``
    alone, as in disentanglement_lib; the paper thresholds the dim and reports balanced
    accuracy.  With ``continuous_factors=True``, ``S_jk`` is the R^2 of a linear fit, the
    squared correlation on all samples (0 for a constant dim).

    An uninformative dim still scores the chance accuracy (about 1 / number of values),
    so with categorical factors even a perfect code scores below 1: about 1/2 for
    binary factors.  A 1-D linear classifier also separates the middle values of a
    factor poorly, and its fixed regularization makes the score depend on the codes'
    scale (codes much smaller than 1 are under-fitted).  Compare SAP across models on
    the same factors, not with 1.

    Parameters
    ----------
    codes : array-like of shape (n_samples, latent_dim)
        Representations, at least two dims.
    factors : array-like of shape (n_samples, n_factors)
        True factor values.
    continuous_factors : bool, default=False
        Score each (dim, factor) pair by R^2 instead of classification accuracy.
    test_size : float, default=1/3
        Fraction held out for the accuracies (categorical factors only).
    n_bins : int, default=20
        Bins for factors with more than ``max_factor_values`` distinct values.
    max_factor_values : int, default=64
        Factor columns with at most this many distinct values are used as categories.
    random_state : int, RandomState or None, default=0
        Seeds the split (the SVM itself is deterministic here).

    Returns
    -------
    float
        In [0, 1]; higher is more disentangled.
    """
    codes, factors = _check_codes_and_factors(codes, factors, min_samples=_MIN_SPLIT_SAMPLES)
    _check_at_least_two(codes.shape[1], "the two code dims most predictive of a factor", "SAP")
    if continuous_factors:
        scores = _squared_correlations(codes, factors)
    else:
        _check_bins(n_bins, max_factor_values)
        labels = _factor_labels(factors, n_bins, max_factor_values)
        codes_train, codes_test, labels_train, labels_test = _split(codes, labels, test_size, random_state)
        scores = np.array([
            [
                LinearSVC(C=0.01, class_weight="balanced")
                .fit(codes_train[:, [j]], labels_train[:, k])
                .score(codes_test[:, [j]], labels_test[:, k])
                for k in range(factors.shape[1])
            ]
            for j in range(codes.shape[1])
        ])
    top_two = np.sort(scores, axis=0)[-2:]
    return float(np.mean(top_two[1] - top_two[0]))


def _squared_correlations(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    codes_centred = codes - codes.mean(axis=0)
    factors_centred = factors - factors.mean(axis=0)
    code_variance = (codes_centred**2).sum(axis=0)
    factor_variance = (factors_centred**2).sum(axis=0)
    if (factor_variance == 0).any():
        raise ValueError(f"factor columns {np.flatnonzero(factor_variance == 0).tolist()} are constant; drop them.")
    covariance = codes_centred.T @ factors_centred
    # disentanglement_lib's cut-off for a dim that does not vary (in variance per sample).
    varies = code_variance / (len(codes) - 1) > 1e-12
    scores = np.zeros_like(covariance)
    scores[varies] = covariance[varies] ** 2 / np.outer(code_variance[varies], factor_variance)
    return scores


# ---------------------------------------------------------------- FactorVAE score
def _as_encode(encoder: Any) -> Callable[[np.ndarray], np.ndarray]:
    if hasattr(encoder, "transform"):
        return encoder.transform
    if callable(encoder):
        return encoder
    raise TypeError(
        f"encoder must have a .transform(X) method (a fitted estimator) or be a callable "
        f"X -> codes; got {type(encoder).__name__}."
    )


def factor_vae_score(
    encoder: Any,
    sample_factors: Callable[[int, np.random.RandomState], np.ndarray],
    render: Callable[[np.ndarray], np.ndarray],
    *,
    batch_size: int = 64,
    n_train: int = 10000,
    n_eval: int = 5000,
    n_variance_estimate: int = 10000,
    prune_threshold: float = 0.05,
    random_state: _Seed = 0,
) -> FactorVAEScores:
    """FactorVAE disentanglement score (Kim & Mnih 2018), as computed by disentanglement_lib.

    Each vote draws a factor ``k`` at random and ``batch_size`` samples that share one
    value of factor ``k`` (the others vary freely), encodes them, divides each code
    dim's variance in the batch by its variance over the whole data, and votes
    "dim with the smallest ratio -> factor k".  Dims whose variance over the data is
    below ``prune_threshold`` (collapsed dims) are left out.  The classifier maps each
    dim to the factor that voted for it most; the score is its accuracy on fresh votes.
    A code that keeps each factor in its own dim scores 1, a code unrelated to the
    data about 1 / n_factors.

    Parameters
    ----------
    encoder : estimator with ``transform`` or callable
        Maps observations to codes (n, latent_dim), e.g. a fitted :class:`aekit.VAE`.
    sample_factors : callable ``(n, rng) -> factors``
        Draws ``n`` rows of factor values (n, n_factors) with the RandomState ``rng``,
        e.g. :func:`aekit.data.sample_shapes_factors`.
    render : callable ``factors -> observations``
        Observations for given factor values, e.g.
        ``functools.partial(aekit.data.render_shapes, image_size=32)``.  For a data
        set that holds every combination of factor values (a grid), both callables
        come from :func:`factor_grid_sampler`.
    batch_size : int, default=64
        Samples per vote.
    n_train, n_eval : int, default=10000, 5000
        Votes to fit and to evaluate the majority-vote classifier.
    n_variance_estimate : int, default=10000
        Samples for each dim's variance over the data.
    prune_threshold : float, default=0.05
        Dims with a smaller variance over the data are treated as collapsed.  The
        value suits codes of unit scale (a VAE's posterior means); rescale other codes
        or change it.
    random_state : int, RandomState or None, default=0
        Seeds the factor draws, passed on to ``sample_factors``.

    Returns
    -------
    FactorVAEScores
        ``train_accuracy``, ``eval_accuracy`` (the score) and ``n_active_dims``.  With
        every dim collapsed both accuracies are 0, with a warning.
    """
    for name, value in (("batch_size", batch_size), ("n_variance_estimate", n_variance_estimate)):
        if value < 2:
            raise ValueError(f"{name} must be at least 2 to measure a variance; got {value}.")
    for name, value in (("n_train", n_train), ("n_eval", n_eval)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1 vote; got {value}.")
    encode = _as_encode(encoder)
    rng = check_random_state(random_state)

    factors = _sample_checked(sample_factors, n_variance_estimate, rng)
    global_variance = np.var(_encode_checked(encode, render, factors), axis=0, ddof=1)
    active = np.flatnonzero(global_variance >= prune_threshold)
    if len(active) == 0:
        warnings.warn(
            f"every code dim has variance below prune_threshold={prune_threshold} over the data, so "
            "the FactorVAE score is 0; lower prune_threshold if the codes are just small in scale.",
            stacklevel=2,
        )
        return FactorVAEScores(0.0, 0.0, 0)

    def votes(n_votes: int) -> np.ndarray:
        """Counts (n_factors, latent_dim) of "this dim varied least when this factor was fixed"."""
        counts = np.zeros((factors.shape[1], len(global_variance)), dtype=np.int64)
        batches_per_encode = max(1, _ROWS_PER_ENCODE // batch_size)
        for start in range(0, n_votes, batches_per_encode):
            n_batches = min(batches_per_encode, n_votes - start)
            fixed = rng.randint(factors.shape[1], size=n_batches)
            batch_factors = _sample_checked(sample_factors, n_batches * batch_size, rng)
            batch_factors = batch_factors.reshape(n_batches, batch_size, -1)
            batch_factors[np.arange(n_batches), :, fixed] = batch_factors[np.arange(n_batches), :1, fixed]
            codes = _encode_checked(encode, render, batch_factors.reshape(n_batches * batch_size, -1))
            local_variance = np.var(codes.reshape(n_batches, batch_size, -1), axis=1, ddof=1)
            least_varying = active[np.argmin(local_variance[:, active] / global_variance[active], axis=1)]
            np.add.at(counts, (fixed, least_varying), 1)
        return counts

    train_votes = votes(n_train)
    factor_of_dim = np.argmax(train_votes, axis=0)
    dims = np.arange(len(global_variance))
    eval_votes = votes(n_eval)
    return FactorVAEScores(
        train_accuracy=float(train_votes[factor_of_dim, dims].sum() / n_train),
        eval_accuracy=float(eval_votes[factor_of_dim, dims].sum() / n_eval),
        n_active_dims=len(active),
    )


def _sample_checked(
    sample_factors: Callable[[int, np.random.RandomState], np.ndarray], n: int, rng: np.random.RandomState
) -> np.ndarray:
    factors = np.array(sample_factors(n, rng), dtype=np.float64)  # a copy: fixing a factor writes to it
    if factors.ndim != 2 or len(factors) != n:
        raise ValueError(
            f"sample_factors(n, rng) must return an array of shape (n, n_factors); asked for {n} "
            f"rows, got shape {factors.shape}."
        )
    return factors


def _encode_checked(
    encode: Callable[[np.ndarray], np.ndarray], render: Callable[[np.ndarray], np.ndarray], factors: np.ndarray
) -> np.ndarray:
    codes = _check_codes(encode(render(factors)), name="encoded codes")
    if len(codes) != len(factors):
        raise ValueError(
            f"encoding {len(factors)} rendered observations gave {len(codes)} codes; render must "
            "return one observation per row of factors and the encoder one code per observation."
        )
    return codes


def independent_factor_sampler(factors: Any) -> Callable[[int, np.random.RandomState], np.ndarray]:
    """A ``sample_factors`` for :func:`factor_vae_score` that draws each factor from the values it takes in ``factors``.

    Each column's value is drawn uniformly from that column's distinct values,
    independently of the others, which is how the factors of a full grid (and of
    :func:`aekit.data.make_shapes`) are distributed.  Pair it with a renderer.

    Parameters
    ----------
    factors : array-like of shape (n_samples, n_factors)
        Factor values of some data, e.g. the test inputs' factors.

    Returns
    -------
    callable ``(n, rng) -> factors``
        Draws ``n`` rows (n, n_factors) with the RandomState ``rng``.
    """
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2 or len(factors) == 0:
        raise ValueError(f"factors must be a non-empty 2-D array (n_samples, n_factors); got shape {factors.shape}.")
    values = [np.unique(column) for column in factors.T]

    def sample_factors(n: int, rng: np.random.RandomState) -> np.ndarray:
        return np.stack([v[rng.randint(len(v), size=n)] for v in values], axis=1)

    return sample_factors


class FactorGridSampler(NamedTuple):
    """The ``sample_factors`` and ``render`` of :func:`factor_vae_score`, read from a rendered factor grid."""

    sample_factors: Callable[[int, np.random.RandomState], np.ndarray]
    """``(n, rng) -> factors``: each factor's value drawn uniformly and independently from the grid's values."""
    render: Callable[[np.ndarray], np.ndarray]
    """``factors -> observations``: the grid's observation for each row of factor values."""


def factor_grid_sampler(factors: Any, observations: Any) -> FactorGridSampler:
    """Sample factors and look up their observations in a data set that holds every combination once.

    :func:`factor_vae_score` fixes one factor and draws the others freely, so it needs
    an observation for any combination of factor values: a renderer, or a complete
    grid such as :func:`aekit.data.shapes_factor_grid` (or dSprites' own file, whose
    ``latents_values`` and ``imgs`` are one).  The rows may come in any order.

    Parameters
    ----------
    factors : array-like of shape (n_combinations, n_factors)
        Factor values of each observation; every combination of the columns' distinct
        values must appear exactly once.
    observations : array-like of shape (n_combinations, ...)
        The observation of each row of ``factors`` (kept by reference, so a
        memory-mapped array stays on disk).

    Returns
    -------
    FactorGridSampler
        ``(sample_factors, render)``; pass both on with
        ``factor_vae_score(est, *factor_grid_sampler(factors, images))``.

    Examples
    --------
    >>> import aekit
    >>> images, factors = aekit.datasets.shapes_factor_grid(16, n_values={"orientation": 2, "pos_x": 3, "pos_y": 3})
    >>> sampler = factor_grid_sampler(factors, images)
    >>> sampler.render(factors[:2]).shape
    (2, 16, 16)
    """
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2:
        raise ValueError(f"factors must be a 2-D array (n_combinations, n_factors); got shape {factors.shape}.")
    if not np.isfinite(factors).all():
        raise ValueError("factors contain NaN or infinite values; a factor grid holds finite values only.")
    if len(observations) != len(factors):
        raise ValueError(
            f"factors and observations must describe the same grid points; got {len(factors)} rows of "
            f"factors and {len(observations)} observations."
        )
    values = [np.unique(column) for column in factors.T]
    sizes = tuple(len(v) for v in values)
    positions = np.ravel_multi_index([np.searchsorted(v, column) for v, column in zip(values, factors.T)], sizes)
    n_combinations = int(np.prod(sizes, dtype=np.int64))
    if len(factors) != n_combinations or len(np.unique(positions)) != n_combinations:
        raise ValueError(
            f"factors are not a complete grid: their columns' distinct values {list(sizes)} make "
            f"{n_combinations} combinations, but the {len(factors)} rows hold {len(np.unique(positions))} "
            "distinct ones. Pass every combination once (e.g. aekit.datasets.shapes_factor_grid), or give "
            "factor_vae_score a renderer instead."
        )
    row_of_position = np.empty(n_combinations, dtype=np.intp)
    row_of_position[positions] = np.arange(len(factors))

    def render(requested: np.ndarray) -> np.ndarray:
        requested = np.asarray(requested, dtype=np.float64)
        if requested.ndim != 2 or requested.shape[1] != len(values):
            raise ValueError(f"factors to render must have shape (n, {len(values)}); got {requested.shape}.")
        indices = [np.minimum(np.searchsorted(v, column), len(v) - 1) for v, column in zip(values, requested.T)]
        for k, (v, index, column) in enumerate(zip(values, indices, requested.T)):
            if not np.array_equal(v[index], column):
                raise ValueError(
                    f"factor column {k} holds values that are not in the grid (e.g. {column[v[index] != column][0]}); "
                    "draw factors with this sampler's sample_factors."
                )
        return np.asarray(observations[row_of_position[np.ravel_multi_index(indices, sizes)]])

    return FactorGridSampler(independent_factor_sampler(factors), render)


# ---------------------------------------------------------------- total correlation
def gaussian_total_correlation(codes: Any) -> float:
    """Total correlation of the codes under a Gaussian fit, in nats (0 = uncorrelated dims).

    ``TC = KL(N(mu, Sigma) || prod_d N(mu_d, Sigma_dd)) = 0.5 * (sum_d log Sigma_dd - log det Sigma)``
    with ``Sigma`` the codes' sample covariance, as disentanglement_lib's unsupervised
    scores.  It needs no factors; it sees only linear dependence.

    Parameters
    ----------
    codes : array-like of shape (n_samples, latent_dim)
        Representations; more samples than dims.

    Returns
    -------
    float
        Non-negative; ``inf`` when the covariance is singular (a dim is a linear
        combination of others).
    """
    codes = _check_codes(codes)
    n_samples, latent_dim = codes.shape
    if n_samples <= latent_dim:
        raise ValueError(
            f"a {latent_dim}-dim covariance needs more samples than dims to be invertible; got {n_samples} samples."
        )
    covariance = np.atleast_2d(np.cov(codes, rowvar=False))
    variances = np.diag(covariance)
    if (variances == 0).any():
        raise ValueError(
            f"code dims {np.flatnonzero(variances == 0).tolist()} are constant, so their log-variance is "
            "undefined; drop them."
        )
    # The formula is -0.5 log det of the correlation matrix; its eigenvalues show a
    # singular covariance that a rounded log-determinant would report as merely large.
    correlation = covariance / np.sqrt(np.outer(variances, variances))
    eigenvalues = np.linalg.eigvalsh(correlation)
    if eigenvalues.min() <= latent_dim * np.finfo(np.float64).eps * eigenvalues.max():
        return float("inf")
    return float(-0.5 * np.log(eigenvalues).sum())
