"""aekit.metrics on small real data and on cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA

import aekit
from aekit import metrics

pytestmark = pytest.mark.usefixtures("single_blas_thread")


@pytest.fixture(scope="module")
def flat_digits(digits):
    X, y = digits
    return X.reshape(len(X), -1), y


@pytest.fixture(scope="module")
def autoencoder(flat_digits):
    X, _ = flat_digits
    return aekit.AutoEncoder(latent_dim=8, epochs=30, random_state=0).fit(X[:1400])


@pytest.fixture(scope="module")
def vae(flat_digits):
    X, _ = flat_digits
    return aekit.VAE(latent_dim=16, epochs=40, random_state=0).fit(X[:1400])


# ---------------------------------------------------------------- clustering
def test_clustering_accuracy_is_one_for_a_relabelling_and_counts_errors():
    y = np.repeat(np.arange(5), 20)
    permuted = np.array([3, 0, 4, 1, 2])[y]
    assert metrics.clustering_accuracy(y, permuted) == 1.0
    assert metrics.nmi(y, permuted) == pytest.approx(1.0)
    assert metrics.ari(y, permuted) == pytest.approx(1.0)
    one_wrong = permuted.copy()
    one_wrong[0] = permuted[-1]
    assert metrics.clustering_accuracy(y, one_wrong) == pytest.approx(99 / 100)


def test_clustering_accuracy_counts_surplus_clusters_as_errors():
    y = np.array([0, 0, 1, 1])
    assert metrics.clustering_accuracy(y, np.array([0, 1, 2, 3])) == 0.5


def test_match_clusters_names_the_class_of_each_matched_cluster():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    clusters = np.array([7, 7, 5, 5, 5, 9, 9, 3])  # cluster 3 has no class left: more clusters than classes
    assert metrics.match_clusters(y, clusters) == {7: 0, 5: 1, 9: 2}
    assert metrics.match_clusters(np.array(["a", "b"]), np.array([1, 0])) == {1: "a", 0: "b"}

def test_kmeans_finds_separated_blobs_and_not_noise():
    Z, y = make_blobs(n_samples=300, centers=4, cluster_std=0.5, center_box=(-20, 20), random_state=0)
    assert metrics.kmeans_clustering_scores(Z, y) == pytest.approx({"accuracy": 1.0, "nmi": 1.0, "ari": 1.0})
    noise = np.random.RandomState(0).standard_normal((300, 2))
    scores = metrics.kmeans_clustering_scores(noise, y)
    assert scores["accuracy"] < 0.4 and scores["ari"] < 0.05


# ---------------------------------------------------------------- probes
def test_probes_read_digit_classes_from_codes_but_not_from_noise(flat_digits):
    X, y = flat_digits
    codes = PCA(16, random_state=0).fit_transform(X)
    assert metrics.linear_probe_accuracy(codes, y) > 0.9
    assert metrics.knn_accuracy(codes, y) > 0.95
    noise = np.random.RandomState(0).standard_normal(codes.shape)
    assert metrics.linear_probe_accuracy(noise, y) < 0.25
    assert metrics.knn_accuracy(noise, y) < 0.25


def test_probes_use_the_given_test_set(flat_digits):
    X, y = flat_digits
    shuffled = np.random.RandomState(0).permutation(y[1400:])
    assert metrics.knn_accuracy(X[:1400], y[:1400], X[1400:], y[1400:]) > 0.9
    assert metrics.knn_accuracy(X[:1400], y[:1400], X[1400:], shuffled) < 0.3
    with pytest.raises(ValueError, match="both Z_test and y_test"):
        metrics.linear_probe_accuracy(X, y, Z_test=X)


def test_trustworthiness_is_one_for_an_isometry_and_low_for_scrambled_codes(digits):
    X, _ = digits
    X = X[:300]
    flat = X.reshape(len(X), -1)
    rotation, _ = np.linalg.qr(np.random.RandomState(0).standard_normal((64, 64)))
    assert metrics.trustworthiness(X, flat @ rotation) == pytest.approx(1.0, abs=1e-4)  # ties among duplicates
    scrambled = np.random.RandomState(1).permutation(flat)
    assert metrics.trustworthiness(X, scrambled) < 0.6


# ---------------------------------------------------------------- detection
def test_auroc_and_average_precision_on_known_rankings():
    is_anomaly = np.array([0, 0, 0, 1, 1])
    assert metrics.auroc(is_anomaly, [0.1, 0.2, 0.3, 0.8, 0.9]) == 1.0
    assert metrics.auroc(is_anomaly, [0.9, 0.8, 0.7, 0.2, 0.1]) == 0.0
    assert metrics.average_precision(is_anomaly, [0.1, 0.2, 0.3, 0.8, 0.9]) == 1.0
    assert metrics.average_precision(is_anomaly, [0.3, 0.8, 0.9, 0.1, 0.2]) < 0.5


# ---------------------------------------------------------------- reconstruction
def test_reconstruction_error_metrics(autoencoder, flat_digits):
    X, _ = flat_digits
    test = X[1400:]
    squared = metrics.reconstruction_error(autoencoder, test)
    np.testing.assert_allclose(squared, autoencoder.reconstruction_error(test), rtol=1e-4)
    absolute = metrics.reconstruction_error(autoencoder, test, metric="absolute")
    residual = np.abs(autoencoder.reconstruct(test) - test)
    np.testing.assert_allclose(absolute, residual.sum(1), rtol=1e-4)
    # Noise is reconstructed worse than held-out digits under every metric.
    noise = np.random.RandomState(0).uniform(size=test.shape).astype(np.float32)
    for metric in metrics.RECONSTRUCTION_METRICS:
        assert np.median(metrics.reconstruction_error(autoencoder, noise, metric)) > 2 * np.median(
            metrics.reconstruction_error(autoencoder, test, metric)
        )
    with pytest.raises(ValueError, match="metric must be one of"):
        metrics.reconstruction_error(autoencoder, test, metric="cosine")


# ---------------------------------------------------------------- likelihood
def test_importance_weighting_tightens_the_elbo(vae, flat_digits):
    X, _ = flat_digits
    test = X[1400:1600]
    elbo = metrics.elbo(vae, test, n_samples=5, random_state=0)
    log_px = metrics.log_likelihood(vae, test, n_samples=200, random_state=0)
    assert elbo.shape == log_px.shape == (200,)
    assert log_px.mean() > elbo.mean()
    assert log_px.mean() - elbo.mean() < 10  # a bound, not a different quantity
    np.testing.assert_array_equal(elbo, metrics.elbo(vae, test, n_samples=5, random_state=0))


def test_kl_per_dimension_adds_up_to_the_kl_term_and_explains_active_units(vae, flat_digits):
    X, _ = flat_digits
    test = X[1400:]
    kl = metrics.kl_per_dimension(vae, test)
    assert kl.shape == (16,) and (kl >= 0).all()
    reconstruction_term = -metrics.elbo(vae, test, n_samples=20, random_state=0).mean() - kl.sum()
    assert reconstruction_term > 0
    n_active = metrics.active_units(vae, test)
    assert 0 < n_active < 16  # digits need fewer than 16 Gaussian dimensions; the rest collapse
    # Collapsed dimensions carry (almost) no information: their KL is the smallest.
    assert np.sort(kl)[: 16 - n_active].max() < np.sort(kl)[16 - n_active :].min() + 1e-6


def test_active_units_counts_varying_code_dimensions(autoencoder, flat_digits):
    X, _ = flat_digits
    codes = autoencoder.transform(X)
    assert metrics.active_units(autoencoder, X) == int((codes.var(0) > 0.01).sum())


def test_vae_metrics_refuse_deterministic_models(autoencoder, flat_digits):
    X, _ = flat_digits
    for metric in (metrics.elbo, metrics.kl_per_dimension, metrics.log_likelihood):
        with pytest.raises(TypeError, match="VAE"):
            metric(autoencoder, X[:10])
