"""The core estimators learn, keep shapes, reproduce, and round-trip through files."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import aekit
from aekit.utils.runtime import draw_seed
from aekit.train import evaluate_terms

FAST = dict(epochs=3, batch_size=64, random_state=0)


def squared_error(a, b):
    return ((a - b) ** 2).reshape(len(a), -1).sum(1)


@pytest.mark.parametrize(
    "shape, architecture",
    [((12,), "mlp"), ((7, 5), "conv"), ((1, 1), "conv"), ((3, 9, 6), "conv"), ((2, 4, 4), "mlp")],
)
@pytest.mark.parametrize("cls", [aekit.AutoEncoder, aekit.VAE])
def test_any_input_shape_round_trips(cls, shape, architecture, rng):
    X = rng.rand(40, *shape).astype(np.float32)
    est = cls(latent_dim=3, hidden=(4, 6), architecture=architecture, **FAST).fit(X)
    assert est.architecture_ == architecture
    assert est.transform(X).shape == (40, 3)
    assert est.reconstruct(X).shape == X.shape
    assert est.inverse_transform(est.transform(X)).shape == X.shape
    assert est.reconstruction_error(X).shape == (40,)
    assert est.score_samples(X).shape == (40,)


def test_auto_architecture_picks_conv_for_images(digits):
    X, _ = digits
    assert aekit.AutoEncoder(**FAST).fit(X[:200]).architecture_ == "conv"
    assert aekit.AutoEncoder(**FAST).fit(X[:200].reshape(200, -1)).architecture_ == "mlp"


def test_conv_models_infer_in_channels_last_with_the_same_outputs(digits, tmp_path):
    X, _ = digits
    ae = aekit.AutoEncoder(hidden=(8, 16), **FAST).fit(X[:200])
    assert ae.module_.encoder[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    codes, recon = ae.transform(X[200:260]), ae.reconstruct(X[200:260])
    ae.save(tmp_path / "conv.safetensors")
    loaded = aekit.load(tmp_path / "conv.safetensors")
    assert loaded.module_.encoder[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(loaded.transform(X[200:260]), codes)
    ae.module_.to(memory_format=torch.contiguous_format)  # the layout training uses
    with torch.inference_mode():
        x = torch.as_tensor(X[200:260]).unsqueeze(1)
        np.testing.assert_allclose(ae.module_.encode(x).numpy(), codes, atol=1e-5)
        np.testing.assert_allclose(ae.module_.reconstruct(x).squeeze(1).numpy(), recon, atol=1e-5)


def test_autoencoder_recovers_a_linear_manifold():
    """Data on a 2-d subspace of R^20: a 2-d code reconstructs it almost exactly, as PCA does."""
    X, _ = aekit.datasets.make_linear_manifold(2000, 20, latent_dim=2, random_state=0)
    X_train, X_test = X[:1500], X[1500:]
    ae = aekit.AutoEncoder(latent_dim=2, hidden=(64,), activation="tanh", epochs=150, random_state=0)
    ae.fit(X_train)
    relative_error = ae.reconstruction_error(X_test).mean() / (X_test**2).sum(1).mean()
    assert relative_error < 0.02


def test_autoencoder_beats_the_mean_image_on_held_out_digits(digits_split):
    X_train, _, X_test, _ = digits_split
    ae = aekit.AutoEncoder(latent_dim=8, loss="bce", epochs=40, random_state=0).fit(X_train)
    baseline = squared_error(X_test, X_train.mean(0, keepdims=True)).mean()
    assert ae.reconstruction_error(X_test).mean() < 0.3 * baseline


def test_vae_trains_and_its_outputs_are_well_formed(digits_split):
    X_train, _, X_test, _ = digits_split
    vae = aekit.VAE(latent_dim=4, hidden=(128, 64), architecture="mlp", epochs=40, random_state=0)
    vae.fit(X_train)
    val = vae.history_["val_loss"]
    assert val[-1] < 0.8 * val[0]
    assert np.array_equal(vae.transform(X_test), vae.transform(X_test)), "transform must be deterministic"
    samples = vae.sample(16, random_state=0)
    assert samples.shape == (16, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(samples, vae.sample(16, random_state=0))
    # The importance-weighted bound is tighter than the ELBO, and grows with k on average.
    elbo = evaluate_terms(vae.module_, vae._to_tensor(X_test))["elbo"]
    ll_1 = vae.log_likelihood(X_test, n_samples=1, random_state=0).mean()
    ll_100 = vae.log_likelihood(X_test, n_samples=100, random_state=0).mean()
    assert abs(ll_1 - elbo) < 0.05 * abs(elbo)
    assert ll_100 > ll_1


def test_kl_warmup_ramps_the_kl_weight(digits):
    X, _ = digits
    vae = aekit.VAE(kl_warmup_epochs=4, **FAST).fit(X[:300])
    (kl,) = [term for term in vae.module_.terms if term.name == "kl"]
    assert [kl.weight_at(epoch) for epoch in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert kl.weight_at(None) == 1.0  # outside training: the full weight


def test_a_warmed_up_vae_reports_the_same_losses_after_save_and_load(digits, tmp_path):
    """The schedule is a closed form of the epoch the trainer passes, not module state lost on save."""
    X, _ = digits
    vae = aekit.VAE(kl_warmup_epochs=10, **FAST).fit(X[:300])
    vae.save(tmp_path / "vae.safetensors")
    loaded = aekit.load(tmp_path / "vae.safetensors")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        fitted = evaluate_terms(vae.module_, vae._to_tensor(X[300:500]))
        torch.manual_seed(0)
        reloaded = evaluate_terms(loaded.module_, loaded._to_tensor(X[300:500]))
    assert fitted == reloaded


def test_cosine_schedule_lowers_the_step_size_to_zero_over_the_epochs(digits):
    X, _ = digits
    options = FAST | dict(epochs=8, learning_rate=1e-2, early_stopping=False, validation_fraction=0.0)
    fit = lambda schedule: aekit.AutoEncoder(learning_rate_schedule=schedule, **options).fit(X[:640])  # noqa: E731
    constant, cosine = fit("constant").history_["learning_rate"], fit("cosine").history_["learning_rate"]
    assert constant == [1e-2] * 8
    assert all(later < earlier for earlier, later in zip(cosine, cosine[1:]))
    # the rate of each epoch's last step: 1e-2 * (1 + cos(pi * (10 * epoch - 1) / 80)) / 2
    assert cosine[3] == pytest.approx(1e-2 * (1 + math.cos(math.pi * 39 / 80)) / 2)
    assert cosine[-1] < 1e-5


def test_beta_trades_kl_for_reconstruction(digits_split):
    X_train, _, X_test, _ = digits_split
    fit = lambda beta: aekit.VAE(latent_dim=8, beta=beta, epochs=25, random_state=0).fit(X_train)  # noqa: E731
    low, high = fit(0.2), fit(5.0)
    kl = lambda m: evaluate_terms(m.module_, m._to_tensor(X_test))["kl"]  # noqa: E731
    assert kl(high) < 0.5 * kl(low)
    assert high.reconstruction_error(X_test).mean() > low.reconstruction_error(X_test).mean()


def test_same_seed_same_model_different_seed_different_model(digits):
    X, _ = digits
    a = aekit.VAE(**FAST).fit(X[:300]).transform(X[:50])
    b = aekit.VAE(**FAST).fit(X[:300]).transform(X[:50])
    c = aekit.VAE(**{**FAST, "random_state": 1}).fit(X[:300]).transform(X[:50])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fitting_does_not_touch_the_global_torch_rng(digits):
    X, _ = digits
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    aekit.AutoEncoder(**FAST).fit(X[:100])
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_early_stopping_restores_the_best_validation_weights(digits):
    X, _ = digits
    X = X[:400].reshape(400, -1)
    est = aekit.AutoEncoder(latent_dim=4, epochs=30, patience=3, learning_rate=0.05, random_state=0).fit(X)
    # Recreate the estimator's own validation split from its seed stream.
    rng = np.random.RandomState(0)
    draw_seed(rng)
    _, val_idx = est._split(len(X), rng)
    final = evaluate_terms(est.module_, est._to_tensor(X[val_idx]))["loss"]
    assert final == pytest.approx(min(est.history_["val_loss"]), rel=1e-5)
    assert len(est.history_["epoch"]) == est.n_epochs_


def test_outputs_are_invariant_to_batch_composition(digits):
    """The float32 version of scikit-learn's subset-invariance check (see test_estimator_checks)."""
    X, _ = digits
    est = aekit.VAE(**FAST).fit(X[:300])
    X = X[:100]
    whole = est.score_samples(X)
    parts = np.concatenate([est.score_samples(X[i : i + 7]) for i in range(0, len(X), 7)])
    np.testing.assert_allclose(whole, parts, rtol=1e-5)
    np.testing.assert_allclose(est.transform(X)[::-1], est.transform(X[::-1]), rtol=1e-5, atol=1e-6)


def test_float64_in_float64_out_and_flat_images_accepted(digits):
    X, _ = digits
    est = aekit.AutoEncoder(**FAST).fit(X[:200].astype(np.float64))
    assert est.transform(X[:5].astype(np.float64)).dtype == np.float64
    assert est.transform(X[:5]).dtype == np.float32
    np.testing.assert_allclose(est.transform(X[:5].reshape(5, 64)), est.transform(X[:5]))
    with pytest.raises(ValueError, match="fitted on samples of shape"):
        est.transform(np.zeros((5, 9, 9), np.float32))


def test_pipeline_and_grid_search(digits_split):
    X_train, y_train, X_test, y_test = digits_split
    flat_train, flat_test = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    pipe = make_pipeline(
        StandardScaler(), aekit.AutoEncoder(latent_dim=16, epochs=30, random_state=0), LogisticRegression(max_iter=2000)
    )
    assert pipe.fit(flat_train, y_train).score(flat_test, y_test) > 0.85
    grid = GridSearchCV(aekit.AutoEncoder(epochs=30, random_state=0), {"latent_dim": [2, 16]}, cv=2)
    grid.fit(flat_train)
    assert grid.best_params_ == {"latent_dim": 16}  # a larger code reconstructs better


def test_pca_comparison_is_honest_on_digits(digits_split):
    """AE codes of the same size reconstruct held-out digits at least as well as PCA."""
    X_train, _, X_test, _ = digits_split
    flat = lambda X: X.reshape(len(X), -1)  # noqa: E731
    pca = PCA(8).fit(flat(X_train))
    pca_error = squared_error(pca.inverse_transform(pca.transform(flat(X_test))), flat(X_test)).mean()
    ae = aekit.AutoEncoder(latent_dim=8, hidden=(256, 128), architecture="mlp", loss="bce", epochs=80, random_state=0)
    assert ae.fit(X_train).reconstruction_error(X_test).mean() < pca_error
