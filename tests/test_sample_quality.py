"""Sample-quality metrics: known answers for the Fréchet distance and precision/recall, and
a feature space learned on scikit-learn's digits."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from sklearn.datasets import load_digits

from aekit import metrics

torch.set_num_threads(1)
pytestmark = pytest.mark.usefixtures("single_blas_thread")


def _with_exact_moments(mean: np.ndarray, std: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` samples whose sample mean is ``mean`` and sample covariance (ddof=1) is ``diag(std**2)``.

    Orthonormal columns of a centred random matrix are centred and uncorrelated, so the
    closed form applies to the estimates exactly, not just in expectation.
    """
    noise = np.random.RandomState(seed).randn(n, len(mean))
    orthonormal, _ = np.linalg.qr(noise - noise.mean(0))
    return mean + np.sqrt(n - 1) * orthonormal * std


def test_identical_sets_have_zero_distance_and_full_precision_and_recall(rng):
    features = rng.randn(300, 8) @ rng.randn(8, 8)
    assert metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)
    assert metrics.precision_recall(features, features.copy(), k=3) == (1.0, 1.0)


def test_shifted_noise_has_a_large_distance_and_low_precision(rng):
    real = rng.randn(500, 8)
    shifted = rng.randn(500, 8) + 3.0
    # Expected about 8 * 3**2 = 72 from the means alone.
    assert metrics.frechet_distance(real, shifted) > 50.0
    precision, recall = metrics.precision_recall(real, shifted, k=3)
    assert precision < 0.05 and recall < 0.05


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances():
    mean_a, std_a = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 0.5, 2.0, 3.0])
    mean_b, std_b = np.array([1.0, 1.0, 0.0, 0.0]), np.array([2.0, 0.5, 1.0, 0.1])
    a = _with_exact_moments(mean_a, std_a, n=50, seed=0)
    b = _with_exact_moments(mean_b, std_b, n=80, seed=1)
    # With diagonal covariances tr((S_a S_b)^(1/2)) = sum(std_a * std_b).
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((std_a - std_b) ** 2)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_agrees_with_the_sqrtm_route_for_full_covariances(rng):
    a = rng.randn(200, 6) @ rng.randn(6, 6)
    b = rng.randn(150, 6) @ rng.randn(6, 6) + 0.5
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b).real
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a + cov_b - 2 * covmean)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_one_feature_is_a_valid_input(rng):
    a, b = rng.randn(100, 1), rng.randn(100, 1) * 2
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert metrics.frechet_distance(a, b) == pytest.approx(expected)


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.zeros((10, 3)), np.zeros((10, 4)), "same feature space"),
        (np.zeros((1, 3)), np.zeros((10, 3)), "at least 2"),
        (np.full((10, 3), np.nan), np.zeros((10, 3)), "NaN"),
        (np.zeros(10), np.zeros(10), "2-D"),
    ],
)
def test_frechet_distance_rejects_bad_features(a, b, message):
    with pytest.raises(ValueError, match=message):
        metrics.frechet_distance(a, b)


def test_precision_recall_needs_more_samples_than_neighbours(rng):
    with pytest.raises(ValueError, match="at least 4"):
        metrics.precision_recall(rng.randn(3, 2), rng.randn(10, 2), k=3)
    with pytest.raises(ValueError, match="positive integer"):
        metrics.precision_recall(rng.randn(10, 2), rng.randn(10, 2), k=0)


# ---------------------------------------------------------------- feature spaces on digits
@pytest.fixture(scope="module")
def digit_images():
    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target


@pytest.fixture(scope="module")
def digit_splits(digit_images):
    X, y = digit_images
    noise = np.random.RandomState(0).uniform(size=(400, 8, 8)).astype(np.float32)
    return {"train": (X[:1000], y[:1000]), "a": X[1000:1400], "b": (X[1400:], y[1400:]), "noise": noise}


@pytest.fixture(scope="module")
def trained_space(digit_splits):
    X, y = digit_splits["train"]
    return metrics.fit_feature_extractor(X, y, epochs=10, random_state=0)


def test_trained_feature_space_separates_real_digits_from_noise(trained_space, digit_splits):
    a, (b, _), noise = digit_splits["a"], digit_splits["b"], digit_splits["noise"]
    real_vs_real = metrics.sample_quality(a, b, trained_space)
    real_vs_noise = metrics.sample_quality(a, noise, trained_space)
    assert set(real_vs_real) == {"fd", "precision", "recall"}
    # Measured: fd 4.5 against 143; recall 0.86 against 0.04.
    assert real_vs_real["fd"] < 0.1 * real_vs_noise["fd"]
    assert real_vs_real["recall"] > 0.7 > 0.2 > real_vs_noise["recall"]
    assert trained_space.transform(a).shape == (len(a), trained_space.n_features)


def test_random_feature_space_without_labels_also_separates_noise(digit_splits):
    X, _ = digit_splits["train"]
    space = metrics.fit_feature_extractor(X, random_state=0)
    a, (b, _), noise = digit_splits["a"], digit_splits["b"], digit_splits["noise"]
    assert metrics.frechet_distance(space.transform(a), space.transform(b)) < 0.2 * metrics.frechet_distance(
        space.transform(a), space.transform(noise)
    )
    with pytest.raises(ValueError, match="cannot predict"):
        space.predict(a)


def test_conditional_sample_accuracy_with_the_trained_classifier(trained_space, digit_splits):
    b, labels = digit_splits["b"]
    # Held-out real digits stand in for perfect conditional samples; measured 0.84.
    assert metrics.conditional_sample_accuracy(trained_space, b, labels) > 0.7
    assert metrics.conditional_sample_accuracy(trained_space, b, (labels + 1) % 10) < 0.2
    with pytest.raises(ValueError, match="one label per sample"):
        metrics.conditional_sample_accuracy(trained_space, b, labels[:-1])


def test_table_feature_space_is_seeded_and_leaves_the_global_rng_alone(digit_splits):
    X, y = digit_splits["train"]
    table = X.reshape(len(X), -1)
    state = torch.random.get_rng_state()
    first = metrics.fit_feature_extractor(table, y, epochs=1, random_state=3).transform(table[:20])
    second = metrics.fit_feature_extractor(table, y, epochs=1, random_state=3).transform(table[:20])
    np.testing.assert_array_equal(first, second)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_feature_space_rejects_other_shapes_and_nan(trained_space, digit_splits):
    with pytest.raises(ValueError, match="do not match"):
        trained_space.transform(np.zeros((5, 64), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        trained_space.transform(np.full((5, 8, 8), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="single class"):
        metrics.fit_feature_extractor(digit_splits["a"], np.zeros(len(digit_splits["a"])))
