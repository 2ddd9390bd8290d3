"""aekit.RBM: the estimator on binarized digits, its CD gradient, likelihoods, sampling, files and resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aekit
from aekit.models.rbm import ContrastiveDivergence, RBMModule, log_partition_exact


@pytest.fixture(scope="module")
def binary_digits(digits):
    X, y = digits
    return (X.reshape(len(X), -1) > 0.5).astype(np.float64), y


@pytest.fixture(scope="module")
def small_pcd(binary_digits):
    """16 hidden units: small enough for the exact partition function."""
    X, _ = binary_digits
    return aekit.RBM(n_components=16, epochs=20, batch_size=50, learning_rate=0.03, ais_betas=1000, random_state=0).fit(X[:1400])


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_fitted_weights_have_sklearn_names_and_define_transform(small_pcd, binary_digits):
    X, _ = binary_digits
    rbm = small_pcd
    assert rbm.components_.shape == (16, 64)
    assert rbm.intercept_hidden_.shape == (16,) and rbm.intercept_visible_.shape == (64,)
    hidden = _sigmoid(X[1400:] @ rbm.components_.T + rbm.intercept_hidden_)
    np.testing.assert_allclose(rbm.transform(X[1400:]), hidden, rtol=1e-4, atol=1e-6)
    visible = _sigmoid(hidden @ rbm.components_ + rbm.intercept_visible_)
    np.testing.assert_allclose(rbm.inverse_transform(hidden), visible, rtol=1e-4, atol=1e-6)
    assert rbm.history_["epoch"] == list(range(1, 21)) and len(rbm.history_["train_free_energy"]) == 20


def test_cd_and_pcd_training_raise_the_exact_likelihood(small_pcd, binary_digits):
    X, _ = binary_digits
    test = torch.as_tensor(X[1400:], dtype=torch.float32)

    def exact_test_ll(rbm) -> float:
        module = rbm.module_.rbm
        with torch.no_grad():
            return float(module.log_likelihood(test, log_partition_exact(module)).mean())

    untrained = aekit.RBM(n_components=16, epochs=1, learning_rate=1e-9, random_state=0).fit(X[:1400])
    cd1 = aekit.RBM(**{**small_pcd.get_params(), "solver": "cd"}).fit(X[:1400])
    lls = {"untrained": exact_test_ll(untrained), "cd1": exact_test_ll(cd1), "pcd": exact_test_ll(small_pcd)}
    # On so small a model CD-1 is nearly maximum likelihood; PCD's edge shows on MNIST (benchmarks/rbm_mnist.py).
    assert lls["cd1"] > lls["untrained"] + 15 and lls["pcd"] > lls["untrained"] + 15, lls
    assert abs(lls["pcd"] - lls["cd1"]) < 5, lls


def test_score_samples_uses_an_ais_log_partition_within_its_error_of_the_exact_one(small_pcd, binary_digits):
    X, _ = binary_digits
    rbm = small_pcd
    scores = rbm.score_samples(X[1400:])
    exact = log_partition_exact(rbm.module_.rbm)
    assert abs(rbm.log_partition_ - exact) < 4 * rbm.log_partition_stderr_ + 1e-3
    assert 0 < rbm.log_partition_stderr_ < 0.5
    assert rbm.ais_log_partition_path_.shape == (1000,)
    np.testing.assert_allclose(scores, -rbm.free_energy(X[1400:]) - rbm.log_partition_)
    # Deterministic: the AIS seed is kept by fit.
    assert rbm.estimate_log_partition().log_partition_ == rbm.log_partition_
    # The pseudo-likelihood is scikit-learn's quantity, a different (and larger) number.
    assert rbm.pseudo_likelihood(X[1400:], random_state=0).shape == (len(X) - 1400,)


def test_the_cd_step_has_the_gradient_of_cd_loss():
    """The closed-form gradient equals autograd's of RBMModule.cd_loss on the same negative samples
    (for linear Gaussian hidden units too, whose free energy is quadratic)."""
    gen = torch.Generator().manual_seed(0)
    v = (torch.rand(32, 20, generator=gen) < 0.4).float()
    for persistent, steps, hidden in ((False, 1, "binary"), (False, 3, "binary"), (True, 2, "binary"), (False, 2, "gaussian")):
        torch.manual_seed(1)
        rbm = RBMModule(20, 7, init_std=0.3, hidden=hidden)
        module = ContrastiveDivergence(rbm, steps=steps, persistent=persistent, n_chains=5)
        module.chains.copy_((torch.rand(5, 7) < 0.5).float())
        start = module.chains.clone()
        torch.manual_seed(2)
        terms = module.loss_terms(v)
        terms["loss"].backward()
        grads = [p.grad.clone() for p in rbm.parameters()]
        rbm.zero_grad()
        torch.manual_seed(2)
        if persistent:  # the chains are hidden states: one visible draw, then steps - 1 full Gibbs steps
            v_model = rbm.gibbs(rbm.sample_visible(start), steps - 1)
        else:
            v_model = rbm.negative_samples(v, steps)
        reference = rbm.cd_loss(v, v_model)
        reference.backward()
        assert torch.allclose(terms["loss"], reference, atol=1e-5)
        for got, want in zip(grads, (p.grad for p in rbm.parameters())):
            torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
        assert persistent != torch.equal(module.chains, start)


def test_pcd_samples_look_like_the_data(small_pcd, binary_digits):
    X, _ = binary_digits
    samples = small_pcd.sample(200, steps=50, random_state=0)
    assert samples.shape == (200, 64) and samples.min() >= 0 and samples.max() <= 1
    # The pixel means of the chains follow the data's (a blank border, ink in the middle).
    assert np.corrcoef(samples.mean(0), X.mean(0))[0, 1] > 0.8  # measured 0.89; an untrained RBM: noise
    np.testing.assert_array_equal(samples, small_pcd.sample(200, steps=50, random_state=0))
    gibbs = small_pcd.gibbs(X[:5], steps=3, random_state=0)
    assert set(np.unique(gibbs)) <= {0.0, 1.0}


def test_gaussian_visible_units_on_standardized_data(digits):
    X, _ = digits
    flat = X.reshape(len(X), -1)
    Z = (flat - flat.mean(0)) / (flat.std(0) + 1e-3)
    params = dict(n_components=8, learning_rate=3e-3, epochs=20, batch_size=50, ais_betas=1000, random_state=0)
    rbm = aekit.RBM(visible="gaussian", **params)
    rbm.fit(Z)
    exact = log_partition_exact(rbm.module_.rbm)
    rbm.estimate_log_partition()
    assert abs(rbm.log_partition_ - exact) < 4 * rbm.log_partition_stderr_ + 1e-3
    # Better than the unit-variance Gaussian at the data mean (the model before any hidden unit).
    baseline = -0.5 * (Z**2).sum(1).mean() - 0.5 * Z.shape[1] * np.log(2 * np.pi)
    assert rbm.score_samples(Z).mean() > baseline + 4  # measured: 5.9 nats better
    with pytest.raises(ValueError, match="visible='bernoulli'"):
        rbm.pseudo_likelihood(Z)


def test_save_load_round_trip(small_pcd, binary_digits, tmp_path):
    X, _ = binary_digits
    small_pcd.save(tmp_path / "rbm.safetensors")
    loaded = aekit.load(tmp_path / "rbm.safetensors")
    assert type(loaded) is aekit.RBM and loaded.get_params() == small_pcd.get_params()
    np.testing.assert_array_equal(loaded.components_, small_pcd.components_)
    np.testing.assert_array_equal(loaded.score_samples(X[:50]), small_pcd.score_samples(X[:50]))
    assert loaded.log_partition_stderr_ == small_pcd.log_partition_stderr_
    np.testing.assert_array_equal(loaded.sample(10, steps=5, random_state=1), small_pcd.sample(10, steps=5, random_state=1))


def test_an_interrupted_pcd_run_resumes_bit_identically(binary_digits, tmp_path, crash_after_checkpoint):
    """The chains, momentum buffers and RNG states all travel in the checkpoint."""
    X, _ = binary_digits
    params = dict(n_components=12, epochs=4, batch_size=50, learning_rate_schedule="cosine", random_state=3)
    with crash_after_checkpoint(lambda checkpoint, state: state.epoch == 2):
        aekit.RBM(**params).fit(X[:600], checkpoint_dir=tmp_path)
    resumed = aekit.RBM(**params).fit(X[:600], checkpoint_dir=tmp_path, resume=True)
    straight = aekit.RBM(**params).fit(X[:600])
    np.testing.assert_array_equal(resumed.components_, straight.components_)
    assert torch.equal(resumed.module_.chains, straight.module_.chains)
    assert resumed.history_["train_loss"] == straight.history_["train_loss"]


def test_bad_input_is_refused_with_advice(small_pcd, binary_digits):
    X, _ = binary_digits
    with pytest.raises(ValueError, match=r"visible='bernoulli' models inputs in \[0, 1\].*visible='gaussian'"):
        aekit.RBM(epochs=1).fit(X * 2 - 1)
    with pytest.raises(ValueError, match="NaN"):
        aekit.RBM(epochs=1).fit(np.where(X == 1, np.nan, X))
    with pytest.raises(ValueError, match="64 features"):
        small_pcd.transform(X[:, :10])
    with pytest.raises(ValueError, match="Z has 3 columns"):
        small_pcd.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="solver must be one of"):
        aekit.RBM(solver="adam").fit(X)
    with pytest.raises(TypeError, match="did you mean 'n_components'"):
        aekit.RBM(n_component=3)
    with pytest.raises(ValueError, match="steps must be"):
        small_pcd.sample(3, steps=0)


def test_rbm_pretraining_unrolls_tied_weights_and_starts_fine_tuning_lower(digits):
    X, _ = digits
    X = X.reshape(len(X), -1)[:1000]
    common = dict(hidden=(32,), latent_dim=8, activation="sigmoid", loss="bce", validation_fraction=0.0, random_state=0)
    frozen = aekit.StackedAutoEncoder(pretraining="rbm", pretrain_epochs=5, epochs=1, learning_rate=1e-12, **common).fit(X)
    encoder, decoder = (
        [m for m in network.modules() if isinstance(m, torch.nn.Linear)]
        for network in (frozen.module_.encoder, frozen.module_.decoder)
    )
    for forward, backward in zip(encoder, reversed(decoder)):  # 64-32 with 32-64, 32-8 with 8-32
        torch.testing.assert_close(backward.weight, forward.weight.T)
    assert frozen.history_["phase"].count("pretrain_layer2") == 5
    pretrained = aekit.StackedAutoEncoder(pretraining="rbm", pretrain_epochs=5, epochs=3, **common).fit(X)
    scratch = aekit.StackedAutoEncoder(pretrain_epochs=0, epochs=3, **common).fit(X)
    first = lambda est: est.history_["train_loss"][est.history_["phase"].index("finetune")]  # noqa: E731
    assert first(pretrained) < first(scratch) - 5  # measured: 31.3 vs 42.5 nats per image on digits
    with pytest.raises(ValueError, match="activation='sigmoid'"):
        aekit.StackedAutoEncoder(pretraining="rbm", activation="relu").fit(X)


@pytest.fixture(scope="module")
def small_dbn(binary_digits):
    X, _ = binary_digits
    return aekit.DBN(n_components=(32, 16), epochs=10, batch_size=50, learning_rate=0.03, random_state=0).fit(X[:1400])


def test_dbn_transforms_through_the_stack_and_samples_digit_like_images(small_dbn, binary_digits):
    X, _ = binary_digits
    dbn = small_dbn
    first, second = (layer.rbm for layer in dbn.module_.layers)
    v = torch.as_tensor(X[1400:], dtype=torch.float32)
    hidden = torch.sigmoid(torch.sigmoid(v @ first.weight.T + first.hidden_bias) @ second.weight.T + second.hidden_bias)
    np.testing.assert_allclose(dbn.transform(X[1400:]), hidden.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert dbn.inverse_transform(dbn.transform(X[:3])).shape == (3, 64)
    assert dbn.history_["phase"] == ["layer1"] * 10 + ["layer2"] * 10
    assert dbn.data_mean_.shape == (32,)  # the top RBM's input: the first layer's hidden probabilities
    samples = dbn.sample(200, steps=50, random_state=0)
    assert samples.shape == (200, 64)
    assert np.corrcoef(samples.mean(0), X.mean(0))[0, 1] > 0.8  # measured 0.93
    np.testing.assert_allclose(-dbn.score_samples(X[:5]), np.square(dbn.reconstruct(X[:5]) - X[:5]).sum(1), rtol=1e-5)


def test_dbn_save_load_and_resume_layer_by_layer(small_dbn, binary_digits, tmp_path, crash_after_checkpoint):
    X, _ = binary_digits
    small_dbn.save(tmp_path / "dbn.safetensors")
    loaded = aekit.load(tmp_path / "dbn.safetensors")
    np.testing.assert_array_equal(loaded.transform(X[:20]), small_dbn.transform(X[:20]))
    np.testing.assert_array_equal(loaded.sample(5, steps=3, random_state=0), small_dbn.sample(5, steps=3, random_state=0))

    params = dict(n_components=(12, 6), epochs=3, batch_size=50, random_state=2)
    with crash_after_checkpoint(lambda checkpoint, state: checkpoint.path.name.startswith("layer2") and state.epoch == 1):
        aekit.DBN(**params).fit(X[:500], checkpoint_dir=tmp_path / "run")
    resumed = aekit.DBN(**params).fit(X[:500], checkpoint_dir=tmp_path / "run", resume=True)
    straight = aekit.DBN(**params).fit(X[:500])
    np.testing.assert_array_equal(resumed.transform(X[500:600]), straight.transform(X[500:600]))
    assert resumed.history_["train_loss"] == straight.history_["train_loss"]
    with pytest.raises(ValueError, match="at least one layer"):
        aekit.DBN(n_components=()).fit(X)


def test_figures_of_filters_chains_and_the_ais_path(small_pcd, tmp_path):
    from aekit import viz

    rbm = small_pcd
    filters = viz.plot_rbm_filters(rbm.components_, (8, 8), n_filters=16, columns=8)
    image = filters.axes[0].images[0].get_array()
    assert image.shape == (2 * 9 - 1, 8 * 9 - 1)  # 16 filters in 2 rows of 8, one blank pixel between
    np.testing.assert_allclose(np.nanmax(np.abs(image[:8, :8])), 1.0)  # each filter on its own scale
    chains = viz.plot_gibbs_chains({f"{k} steps": rbm.sample(8, steps=k, random_state=0) for k in (1, 10)})
    assert len(chains.axes) == 2
    rbm.estimate_log_partition()
    path = viz.plot_ais_path(rbm.ais_log_partition_path_, standard_error=rbm.log_partition_stderr_, exact=55.0)
    line = path.axes[0].lines[0].get_ydata()
    # From the base-rate model's exact log Z (sum_i softplus(b_i) + n_hidden log 2) to the estimate.
    base_rate = -np.log1p(-np.clip(rbm.data_mean_, 1e-3, 1 - 1e-3)).sum() + 16 * np.log(2)
    assert line[0] == pytest.approx(base_rate, rel=1e-6) and line[-1] == rbm.log_partition_
    viz.save_figure(path, tmp_path / "ais.png")
    assert (tmp_path / "ais.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="expected \\(n_hidden, 49\\)"):
        viz.plot_rbm_filters(rbm.components_, (7, 7))
