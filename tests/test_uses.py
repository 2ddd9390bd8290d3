"""Anomaly detection, sampling and latent navigation on the digits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import aekit
from aekit.metrics import auroc
from aekit.uses import interpolate_codes

pytestmark = pytest.mark.usefixtures("single_blas_thread")


@pytest.fixture(scope="module")
def planted(digits):
    """Normal training digits, and a test set of held-out digits plus planted anomalies (inverted digits)."""
    X, _ = digits
    X = X.reshape(len(X), -1)
    normal_test = X[1400:1600]
    inverted = 1.0 - X[1600:1700]
    return X[:1400], np.concatenate([normal_test, inverted]), np.r_[np.zeros(200), np.ones(100)]


@pytest.fixture(scope="module")
def detector(planted):
    X_train, _, _ = planted
    return aekit.AnomalyDetector(
        aekit.AutoEncoder(latent_dim=8, epochs=20, random_state=0), contamination=0.05
    ).fit(X_train)


@pytest.fixture(scope="module")
def image_ae(digits):
    X, _ = digits
    return aekit.AutoEncoder(latent_dim=6, architecture="mlp", epochs=20, random_state=0).fit(X[:1400])


@pytest.fixture(scope="module")
def image_vae(digits):
    X, _ = digits
    return aekit.VAE(latent_dim=6, architecture="mlp", epochs=20, random_state=0).fit(X[:1400])


# ---------------------------------------------------------------- anomaly detection
def test_detector_ranks_planted_anomalies_above_normal_digits(detector, planted):
    _, X_test, is_anomaly = planted
    scores = detector.score_samples(X_test)
    assert scores.shape == (300,)
    assert auroc(is_anomaly, -scores) > 0.95


def test_error_and_code_terms_each_average_one_on_the_training_rows(detector, planted):
    X_train, _, _ = planted
    codes = detector.estimator_.transform(X_train)
    errors = detector.estimator_.reconstruction_error(X_train)
    assert detector.reference_error_ == pytest.approx(errors.mean(), rel=1e-6)
    np.testing.assert_allclose(detector.code_mean_, codes.mean(0), atol=1e-5)
    # The squared Mahalanobis distance under the sample covariance averages d (n - 1) / n.
    n = len(X_train)
    assert -detector.score_samples(X_train).mean() == pytest.approx(1 + (n - 1) / n, rel=1e-3)


def test_error_and_code_score_catches_what_the_error_misses():
    """Points on the data's plane but far along it: reconstructed well, from codes no training row has."""
    rng = np.random.RandomState(0)
    basis = rng.standard_normal((2, 8))
    X = (rng.standard_normal((800, 2)) @ basis).astype(np.float32)
    angles = rng.uniform(0, 2 * np.pi, 40)
    far = (5 * np.column_stack([np.cos(angles), np.sin(angles)]) @ basis).astype(np.float32)  # 5 sd out
    normal = (rng.standard_normal((40, 2)) @ basis).astype(np.float32)
    estimator = aekit.AutoEncoder(latent_dim=2, hidden=(32,), epochs=60, random_state=0)
    is_far = np.r_[np.zeros(40), np.ones(40)]
    test = np.concatenate([normal, far])
    both = aekit.AnomalyDetector(estimator).fit(X)
    error_only = aekit.AnomalyDetector(estimator, score="squared").fit(X)
    assert auroc(is_far, -both.score_samples(test)) > 0.95
    assert auroc(is_far, -both.score_samples(test)) > auroc(is_far, -error_only.score_samples(test)) + 0.05


def test_detector_follows_the_outlier_api(detector, planted):
    X_train, X_test, is_anomaly = planted
    decision = detector.decision_function(X_test)
    np.testing.assert_allclose(decision, detector.score_samples(X_test) - detector.offset_)
    predicted = detector.predict(X_test)
    assert set(np.unique(predicted)) <= {-1, 1}
    np.testing.assert_array_equal(predicted == -1, decision < 0)
    # offset_ is the contamination quantile of the training scores.
    assert np.mean(detector.predict(X_train) == -1) == pytest.approx(0.05, abs=0.01)
    assert np.mean(predicted[is_anomaly == 1] == -1) > 0.9
    assert np.mean(predicted[is_anomaly == 0] == 1) > 0.8


def test_detector_is_a_scikit_learn_meta_estimator(detector):
    params = detector.get_params(deep=True)
    assert params["estimator__latent_dim"] == 8 and params["contamination"] == 0.05
    copy = clone(detector).set_params(estimator__latent_dim=3, score="absolute")
    assert copy.estimator.latent_dim == 3 and copy.score == "absolute"
    assert not hasattr(copy, "estimator_")
    with pytest.raises(NotFittedError):
        copy.predict(np.zeros((2, 64)))


def test_detector_in_a_pipeline_with_images(digits):
    X, _ = digits
    pipeline = make_pipeline(
        MinMaxScaler(),
        aekit.AnomalyDetector(aekit.AutoEncoder(latent_dim=8, epochs=10, random_state=0), score="cross_entropy"),
    )
    flat = X.reshape(len(X), -1)
    pipeline.fit(flat[:1400])
    noise = np.random.RandomState(0).uniform(size=(50, 64))
    scores = pipeline.score_samples(np.concatenate([flat[1400:1450], noise]))
    assert auroc(np.r_[np.zeros(50), np.ones(50)], -scores) > 0.95
    assert (pipeline.predict(noise) == -1).mean() > 0.9


@pytest.mark.parametrize("score", ["elbo", "log_likelihood"])
def test_vae_scores_detect_planted_anomalies(planted, score):
    X_train, X_test, is_anomaly = planted
    vae = aekit.VAE(latent_dim=6, epochs=20, random_state=0)
    detector = aekit.AnomalyDetector(vae, score=score, n_samples=20, random_state=0).fit(X_train)
    assert auroc(is_anomaly, -detector.score_samples(X_test)) > 0.95
    assert np.mean(detector.predict(X_train) == -1) == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"score": "elbo"}, "needs a VAE-family estimator"),
        ({"score": "hamming"}, "score must be one of"),
        ({"contamination": 0.7}, r"contamination must be a number in \(0, 0.5\]"),
        ({"n_samples": 0}, "n_samples must be an integer"),
    ],
)
def test_detector_rejects_bad_parameters(kwargs, message, planted):
    X_train, _, _ = planted
    with pytest.raises(ValueError, match=message):
        aekit.AnomalyDetector(aekit.AutoEncoder(epochs=1), **kwargs).fit(X_train)


def test_detector_needs_an_autoencoder(planted):
    X_train, _, _ = planted
    with pytest.raises(TypeError, match="aekit autoencoder"):
        aekit.AnomalyDetector(MinMaxScaler()).fit(X_train)


# ---------------------------------------------------------------- sampling
def test_autoencoder_samples_look_like_the_data(image_ae, digits):
    X, _ = digits
    samples = image_ae.sample(200, random_state=0)
    assert samples.shape == (200, 8, 8) and samples.dtype == np.float32
    np.testing.assert_array_equal(samples, image_ae.sample(200, random_state=0))
    assert not np.allclose(samples, image_ae.sample(200, random_state=1))
    # Decoded mixture draws lie near the digits, much nearer than decoded draws of a
    # standard normal (which ignores where the codes are).
    flat = X[:1400].reshape(1400, -1)

    def distance_to_data(images):
        images = images.reshape(len(images), -1)
        return np.sqrt(((images[:, None, :] - flat[None]) ** 2).sum(-1).min(1)).mean()

    scale = image_ae.transform(X[:1400]).std()
    ignorant = image_ae.inverse_transform(np.random.RandomState(0).standard_normal((200, 6)) * 3 * scale)
    assert distance_to_data(samples) < 0.8 * distance_to_data(ignorant)


def test_code_density_matches_the_codes_and_survives_save_load(image_ae, digits, tmp_path):
    X, _ = digits
    codes = image_ae.transform(X[:1400])
    image_ae.sample(1, random_state=0)  # the mixture is fitted on the first draw
    assert image_ae.code_density_means_.shape == (10, 6)
    np.testing.assert_allclose(image_ae.code_density_weights_.sum(), 1.0)
    mixture_mean = image_ae.code_density_weights_ @ image_ae.code_density_means_
    np.testing.assert_allclose(mixture_mean, codes.mean(0), atol=0.1 * codes.std())
    path = tmp_path / "ae.aekit"
    image_ae.save(path)
    np.testing.assert_array_equal(aekit.load(path).sample(5, random_state=3), image_ae.sample(5, random_state=3))


def test_the_code_density_is_fitted_on_first_use_and_samples_the_same_saved_or_not(digits, tmp_path):
    X, _ = digits
    params = dict(latent_dim=3, hidden=(16,), epochs=2, random_state=0)
    unsaved, saved = aekit.AutoEncoder(**params).fit(X[:300]), aekit.AutoEncoder(**params).fit(X[:300])
    assert not hasattr(unsaved, "code_density_weights_")  # fit itself pays nothing for sampling
    saved.save(tmp_path / "ae.safetensors")
    loaded = aekit.load(tmp_path / "ae.safetensors")
    np.testing.assert_array_equal(loaded.sample(6, random_state=2), unsaved.sample(6, random_state=2))
    np.testing.assert_array_equal(saved.sample(6, random_state=2), unsaved.sample(6, random_state=2))


def test_vae_samples_from_the_prior(image_vae):
    assert not hasattr(image_vae, "code_density_weights_")
    assert image_vae.sample(4, random_state=0).shape == (4, 8, 8)


# ---------------------------------------------------------------- navigation
@pytest.mark.parametrize("method", ["slerp", "linear"])
def test_interpolation_endpoints_are_the_reconstructions(image_ae, digits, method):
    X, _ = digits
    path = aekit.interpolate(image_ae, X[0], X[1], n_steps=6, method=method)
    assert path.shape == (6, 8, 8)
    reconstructions = image_ae.reconstruct(X[:2])
    np.testing.assert_allclose(path[0], reconstructions[0], atol=1e-5)
    np.testing.assert_allclose(path[-1], reconstructions[1], atol=1e-5)
    # Flat rows are accepted for image models too.
    np.testing.assert_allclose(aekit.interpolate(image_ae, X[0].ravel(), X[1].ravel(), 6, method), path)


def test_slerp_keeps_the_norm_profile_and_linear_cuts_the_corner():
    rng = np.random.RandomState(0)
    z_a, z_b = rng.standard_normal(32), rng.standard_normal(32)
    slerp = interpolate_codes(z_a, z_b, n_steps=9, method="slerp")
    linear = interpolate_codes(z_a, z_b, n_steps=9, method="linear")
    expected_norms = np.linspace(np.linalg.norm(z_a), np.linalg.norm(z_b), 9)
    np.testing.assert_allclose(np.linalg.norm(slerp, axis=1), expected_norms)
    # Independent Gaussian codes are nearly orthogonal: the segment's midpoint has ~1/sqrt(2) of the norm.
    assert np.linalg.norm(linear[4]) < 0.85 * expected_norms[4]
    np.testing.assert_allclose(np.linalg.norm(linear[[0, -1]], axis=1), expected_norms[[0, -1]])
    # Parallel codes (no great circle) fall back to a straight walk along the direction.
    np.testing.assert_allclose(interpolate_codes(z_a, 2 * z_a, 3), [z_a, 1.5 * z_a, 2 * z_a])


def test_interpolation_rejects_batches_and_bad_methods(image_ae, digits):
    X, _ = digits
    with pytest.raises(ValueError, match="one sample shaped like a training sample"):
        aekit.interpolate(image_ae, X[:1], X[1])
    with pytest.raises(ValueError, match="method must be one of"):
        aekit.interpolate(image_ae, X[0], X[1], method="cubic")
    with pytest.raises(ValueError, match="n_steps must be an integer >= 2"):
        aekit.interpolate(image_ae, X[0], X[1], n_steps=1)


def test_traverse_moves_one_code_dimension_at_a_time(image_vae, digits):
    X, _ = digits
    grid = aekit.traverse(image_vae, X[0], dims=[0, 2], values=[-2.0, 0.0, 2.0])
    assert grid.shape == (2, 3, 8, 8)
    code = image_vae.transform(X[:1])[0]
    for row, dim in enumerate([0, 2]):
        expected = np.repeat(code[None], 3, 0)
        expected[:, dim] = [-2.0, 0.0, 2.0]
        np.testing.assert_allclose(grid[row], image_vae.inverse_transform(expected), atol=1e-6)
    # Setting a dimension to its own value gives back the reconstruction.
    own = aekit.traverse(image_vae, X[0], dims=[1], values=[code[1]])
    np.testing.assert_allclose(own[0, 0], image_vae.reconstruct(X[:1])[0], atol=1e-5)
    assert aekit.traverse(image_vae, X[0]).shape == (6, 7, 8, 8)


def test_traverse_rejects_bad_dimensions(image_vae, digits):
    X, _ = digits
    with pytest.raises(ValueError, match=r"dims must be code dimensions in \[0, 5\]"):
        aekit.traverse(image_vae, X[0], dims=[6])
    with pytest.raises(ValueError, match="values must be"):
        aekit.traverse(image_vae, X[0], values=[np.nan])
