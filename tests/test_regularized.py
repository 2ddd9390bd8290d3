"""Sparse, denoising, contractive and stacked autoencoders: each shows its defining property
on held-out digits (trained on the first 1400, measured on the other 397)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

import aekit
from aekit.data.corruption import GaussianNoise, Masking, SaltPepper, make_corruption
from aekit.models.terms import _single_sigmoid_layer, jacobian_squared_norm

ARCH = dict(hidden=(64,), latent_dim=16, epochs=30, random_state=0)


@pytest.fixture(scope="module")
def flat_split(digits_split):
    X_train, _, X_test, _ = digits_split
    return X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)


@pytest.fixture(scope="module")
def plain_ae(flat_split):
    return aekit.AutoEncoder(**ARCH).fit(flat_split[0])


def _squared_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a - b) ** 2).sum(1).mean())


# --------------------------------------------------------------------------- dropout
def test_dropout_narrows_the_gap_between_training_and_held_out_error(flat_split):
    """300 training digits and a wide net overfit: dropout gives up training error for held-out error
    (seeds 0-2: held-out 0.66-0.69 with dropout 0.2 against 0.93-1.00 without)."""
    X_train, X_test = flat_split
    net = dict(hidden=(256, 256), latent_dim=16, activation="elu", loss="bce", epochs=150, batch_size=32,
               validation_fraction=0.0, early_stopping=False, random_state=0)  # fmt: skip
    errors = {}
    for rate in (0.0, 0.2):
        model = aekit.AutoEncoder(**net, dropout=rate).fit(X_train[:300])
        errors[rate] = [float(model.reconstruction_error(X).mean()) for X in (X_train[:300], X_test)]
    assert errors[0.2][1] < 0.85 * errors[0.0][1]
    assert errors[0.2][0] > 1.5 * errors[0.0][0]


def test_dropout_acts_in_training_only(flat_split):
    X_train, X_test = flat_split
    model = aekit.AutoEncoder(**ARCH, dropout=0.5).fit(X_train)
    assert sum(isinstance(m, nn.Dropout) for m in model.module_.modules()) == 2  # after the encoder's and decoder's hidden layer
    np.testing.assert_array_equal(model.transform(X_test), model.transform(X_test))
    x = torch.as_tensor(X_test[:50])
    with torch.no_grad():
        model.module_.train()
        assert not torch.equal(model.module_.encoder(x), model.module_.encoder(x))
    without = aekit.AutoEncoder(**ARCH).fit(X_train)
    assert not any(isinstance(m, nn.Dropout) for m in without.module_.modules())


# --------------------------------------------------------------------------- sparse
def test_kl_sparsity_holds_mean_activation_near_target_with_overcomplete_code(flat_split):
    X_train, X_test = flat_split
    target = 0.05
    sae = aekit.SparseAutoEncoder(penalty="kl", sparsity_target=target, **{**ARCH, "latent_dim": 100}).fit(X_train)
    codes = sae.transform(X_test)
    assert codes.shape == (len(X_test), 100)  # over-complete: 100 units for 64 pixels
    assert codes.min() > 0 and codes.max() < 1
    assert abs(codes.mean() - target) <= 0.2 * target
    assert np.isfinite(sae.reconstruction_error(X_test)).all()


def test_l1_sparsity_gives_many_more_near_zero_codes_than_plain_ae(flat_split, plain_ae):
    X_train, X_test = flat_split
    sae = aekit.SparseAutoEncoder(penalty="l1", sparsity_weight=0.03, **ARCH).fit(X_train)

    def near_zero_fraction(codes: np.ndarray) -> float:
        # Relative to the largest code value, so shrinking all codes does not count as sparsity.
        return float(np.mean(np.abs(codes) <= 0.01 * np.abs(codes).max()))

    sparse, plain = near_zero_fraction(sae.transform(X_test)), near_zero_fraction(plain_ae.transform(X_test))
    assert sparse >= 0.3
    assert sparse >= 5 * plain


# --------------------------------------------------------------------------- denoising
def test_denoising_beats_plain_reconstruction_and_the_noise_itself(flat_split, plain_ae):
    X_train, X_test = flat_split
    dae = aekit.DenoisingAutoEncoder(noise="gaussian", noise_level=0.5, **ARCH).fit(X_train)
    noisy = np.clip(X_test + 0.5 * np.random.RandomState(1).standard_normal(X_test.shape), 0, 1).astype(np.float32)
    denoised = _squared_error(dae.denoise(noisy), X_test)
    plain = _squared_error(plain_ae.reconstruct(noisy), X_test)
    untouched = _squared_error(noisy, X_test)
    assert denoised < plain < untouched
    assert denoised < 0.5 * untouched


def test_denoising_records_data_range_and_clips_gaussian_noise(flat_split):
    X_train, _ = flat_split
    dae = aekit.DenoisingAutoEncoder(noise_level=2.0, **{**ARCH, "epochs": 1}).fit(X_train)
    assert (dae.data_min_, dae.data_max_) == (0.0, 1.0)
    corruption = dae.module_.corruption
    torch.manual_seed(0)
    noisy = corruption(torch.full((1000, 64), 0.5))
    assert noisy.min() == 0.0 and noisy.max() == 1.0
    unclipped = aekit.DenoisingAutoEncoder(noise_level=2.0, clip=False, **{**ARCH, "epochs": 1}).fit(X_train)
    assert unclipped.module_.corruption(torch.full((1000, 64), 0.5)).max() > 1.0


def test_denoising_training_is_reproducible_from_random_state(flat_split):
    X_train, X_test = flat_split
    params = dict(noise="masking", noise_level=0.3, **{**ARCH, "epochs": 3})
    a = aekit.DenoisingAutoEncoder(**params).fit(X_train).transform(X_test)
    b = aekit.DenoisingAutoEncoder(**params).fit(X_train).transform(X_test)
    c = aekit.DenoisingAutoEncoder(**{**params, "random_state": 1}).fit(X_train).transform(X_test)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_pepper"])
def test_corruptions_draw_from_torch_rng(kind):
    x = torch.rand(200, 50)
    corrupt = make_corruption(kind, 0.3, 0.0, 1.0)
    torch.manual_seed(3)
    first = corrupt(x)
    torch.manual_seed(3)
    np.testing.assert_array_equal(first.numpy(), corrupt(x).numpy())
    assert not torch.equal(first, corrupt(x))


def test_corruption_statistics():
    torch.manual_seed(0)
    x = torch.full((400, 500), 0.5)
    masked = Masking(0.3)(x)
    assert abs((masked == 0).float().mean().item() - 0.3) < 0.01
    salted = SaltPepper(0.2, low=-1.0, high=2.0)(x)
    changed = salted != 0.5
    assert abs(changed.float().mean().item() - 0.2) < 0.01
    assert set(salted[changed].unique().tolist()) == {-1.0, 2.0}
    assert abs((salted == 2.0).float().mean().item() - 0.1) < 0.01
    noise = GaussianNoise(0.1)(x) - x
    assert abs(noise.std().item() - 0.1) < 0.002
    with pytest.raises(ValueError, match="noise must be one of"):
        make_corruption("poisson", 0.1)


# --------------------------------------------------------------------------- contractive
def _finite_difference_jacobian(encoder: nn.Module, x: torch.Tensor, step: float = 1e-6) -> torch.Tensor:
    columns = []
    for i in range(x.shape[1]):
        e = torch.zeros_like(x)
        e[:, i] = step
        columns.append((encoder(x + e) - encoder(x - e)) / (2 * step))
    return torch.stack(columns, dim=-1)  # (n, k, d)


@pytest.mark.parametrize("hidden", [(), (16,)], ids=["closed_form", "autograd"])
def test_jacobian_norm_matches_finite_differences(flat_split, hidden):
    X_train, X_test = flat_split
    cae = aekit.ContractiveAutoEncoder(hidden=hidden, latent_dim=8, epochs=2, random_state=0).fit(X_train)
    encoder = copy.deepcopy(cae.module_.encoder).double()
    assert (_single_sigmoid_layer(encoder) is not None) == (hidden == ())
    x = torch.as_tensor(X_test[:5], dtype=torch.float64)
    with torch.no_grad():
        expected = _finite_difference_jacobian(encoder, x).square().sum((1, 2))
    np.testing.assert_allclose(jacobian_squared_norm(encoder, x).detach().numpy(), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(cae.jacobian_norm(X_test[:5]), expected.numpy(), rtol=1e-4)


def test_contractive_halves_the_jacobian_norm_of_the_same_unpenalized_network(flat_split, plain_ae):
    X_train, X_test = flat_split
    cae = aekit.ContractiveAutoEncoder(contraction_weight=1.0, **ARCH).fit(X_train)
    unpenalized = aekit.ContractiveAutoEncoder(contraction_weight=0.0, **ARCH).fit(X_train)
    contracted = cae.jacobian_norm(X_test).mean()
    assert contracted <= 0.5 * unpenalized.jacobian_norm(X_test).mean()
    with torch.no_grad():
        plain = jacobian_squared_norm(plain_ae.module_.encoder, torch.as_tensor(X_test)).mean().item()
    assert contracted <= 0.5 * plain


def test_random_projection_penalty_contracts_like_the_exact_one(flat_split):
    X_train, X_test = flat_split
    exact = aekit.ContractiveAutoEncoder(contraction_weight=1.0, contraction_estimator="exact", **ARCH).fit(X_train)
    projected = aekit.ContractiveAutoEncoder(contraction_weight=1.0, contraction_estimator="projection", **ARCH)
    projected.fit(X_train)
    unpenalized = aekit.ContractiveAutoEncoder(contraction_weight=0.0, **ARCH).fit(X_train)
    assert exact.contraction_estimator_ == "exact" and projected.contraction_estimator_ == "projection"
    norm = {m: m.jacobian_norm(X_test).mean() for m in (exact, projected, unpenalized)}
    assert norm[projected] <= 0.5 * norm[unpenalized]
    assert 0.5 * norm[exact] <= norm[projected] <= 2.0 * norm[exact]
    # "auto": exact for digits' 64 pixels, the estimate above 4096 features.
    assert aekit.ContractiveAutoEncoder(epochs=1).fit(X_train[:20]).contraction_estimator_ == "exact"
    wide = np.tile(X_train[:20], (1, 65))  # 4160 features
    assert aekit.ContractiveAutoEncoder(epochs=1, hidden=(8,)).fit(wide).contraction_estimator_ == "projection"


# --------------------------------------------------------------------------- stacked
def test_stacked_pretraining_then_finetuning_matches_end_to_end_training(flat_split):
    """Same network, same total epochs.  Over seeds 0-2 pretraining wins on average (held-out
    error 0.751 vs 0.794) but not on every seed (seed 0: 0.772 vs 0.768), so one seed is held
    to "no worse than 2%"; pretraining must clearly beat fine-tuning alone from scratch."""
    X_train, X_test = flat_split
    net = dict(hidden=(128, 64), latent_dim=16, batch_size=32, random_state=0)
    stacked = aekit.StackedAutoEncoder(pretrain_epochs=10, epochs=20, **net).fit(X_train)
    n_layers = 3
    assert stacked.n_epochs_ == n_layers * 10 + 20
    end_to_end = aekit.AutoEncoder(architecture="mlp", epochs=stacked.n_epochs_, **net).fit(X_train)
    finetune_only = aekit.AutoEncoder(architecture="mlp", epochs=20, **net).fit(X_train)
    error = stacked.reconstruction_error(X_test).mean()
    assert error <= 1.02 * end_to_end.reconstruction_error(X_test).mean()
    assert error <= 0.85 * finetune_only.reconstruction_error(X_test).mean()


def test_stacked_pretraining_rescues_a_sigmoid_network_that_sgd_cannot_train_end_to_end(flat_split):
    """The setting of the greedy-pretraining papers (sigmoid units, SGD with momentum): from a
    random start the deep network stays at the mean image for the whole budget (held-out
    error 4.72-4.75 on seeds 0-2, the mean image's), while the pretrained one learns (2.4-3.3)."""
    X_train, X_test = flat_split
    net = dict(hidden=(128, 64), latent_dim=16, batch_size=32, activation="sigmoid", random_state=0)
    net |= dict(solver="sgd", learning_rate=0.03, momentum=0.9, early_stopping=False)
    stacked = aekit.StackedAutoEncoder(pretrain_epochs=10, epochs=20, **net).fit(X_train)
    end_to_end = aekit.AutoEncoder(architecture="mlp", epochs=stacked.n_epochs_, **net).fit(X_train)
    mean_image_error = np.square(X_test - X_train.mean(0)).sum(1).mean()
    assert end_to_end.reconstruction_error(X_test).mean() > 0.95 * mean_image_error
    assert stacked.reconstruction_error(X_test).mean() < 0.8 * end_to_end.reconstruction_error(X_test).mean()


def test_stacked_history_shows_both_phases_and_shares_one_network(flat_split):
    X_train, _ = flat_split
    sae = aekit.StackedAutoEncoder(
        hidden=(32,), latent_dim=8, pretrain_epochs=2, epochs=3, pretrain_noise="masking", random_state=0
    ).fit(X_train)
    assert sae.history_["phase"] == ["pretrain_layer1"] * 2 + ["pretrain_layer2"] * 2 + ["finetune"] * 3
    assert sae.history_["epoch"] == list(range(1, 8))
    assert all(len(v) == 7 for v in sae.history_.values())
    # Layer 2 reconstructs 32 hidden units, layer 1 the 64 pixels: different losses, both decreasing.
    loss = sae.history_["train_loss"]
    assert loss[1] < loss[0] and loss[3] < loss[2]
    assert isinstance(sae.module_, aekit.models.AutoEncoderModule)


# --------------------------------------------------------------------------- every estimator
NEW_ESTIMATORS = [
    aekit.SparseAutoEncoder(penalty="kl", latent_dim=80),
    aekit.SparseAutoEncoder(penalty="l1"),
    aekit.DenoisingAutoEncoder(noise="salt_pepper", noise_level=0.2),
    aekit.ContractiveAutoEncoder(),
    aekit.StackedAutoEncoder(hidden=(32,), pretrain_epochs=1, pretrain_noise="gaussian"),
]


@pytest.mark.parametrize("estimator", NEW_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_save_load_round_trip(estimator, flat_split, tmp_path):
    X_train, X_test = flat_split
    est = clone(estimator).set_params(epochs=2, hidden=estimator.hidden or (32,), random_state=0).fit(X_train)
    est.save(tmp_path / "model.aekit")
    loaded = aekit.load(tmp_path / "model.aekit")
    assert type(loaded) is type(est) and loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.transform(X_test), est.transform(X_test))
    np.testing.assert_array_equal(loaded.reconstruct(X_test), est.reconstruct(X_test))


@pytest.mark.parametrize(
    "estimator, message",
    [
        (aekit.SparseAutoEncoder(penalty="l2"), "penalty must be one of"),
        (aekit.SparseAutoEncoder(sparsity_target=1.0), r"sparsity_target must be a number in \(0.0, 1.0\)"),
        (aekit.SparseAutoEncoder(sparsity_weight=-1.0), "sparsity_weight"),
        (aekit.DenoisingAutoEncoder(noise="poisson"), "noise must be one of"),
        (aekit.DenoisingAutoEncoder(noise="masking", noise_level=1.0), "must be below 1"),
        (aekit.DenoisingAutoEncoder(clip="yes"), "clip must be True or False"),
        (aekit.ContractiveAutoEncoder(contraction_weight=-0.1), "contraction_weight"),
        (aekit.ContractiveAutoEncoder(code_activation="relu"), "code_activation must be one of"),
        (aekit.StackedAutoEncoder(architecture="conv"), "fully connected"),
        (aekit.StackedAutoEncoder(pretrain_noise="salt_pepper"), r"pretrain_noise must be one of \[None, 'gaussian', 'masking'\]"),
        (aekit.StackedAutoEncoder(hidden=None), "hidden must be a tuple of positive integers"),
        (aekit.StackedAutoEncoder(pretrain_epochs=-1), "pretrain_epochs"),
    ],
)
def test_invalid_parameters_are_explained(estimator, message, flat_split):
    with pytest.raises(ValueError, match=message):
        estimator.fit(flat_split[0])
