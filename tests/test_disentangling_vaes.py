"""FactorVAE and DIP-VAE: their terms on fixed tensors, the defining property of each on digits,
the discriminator's own training, model files, resume and parameter checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aekit
from aekit.metrics import gaussian_total_correlation
from aekit.models.dipvae import DIPCovariance, dip_covariance
from aekit.models.factorvae import DiscriminatorTotalCorrelation, permute_dims
from aekit.models.terms import ForwardPass

SMALL = dict(hidden=(64,), epochs=30, batch_size=64)


# ---------------------------------------------------------------------------- terms on fixed tensors
def test_dip_covariance_on_a_hand_computed_batch():
    # mu = [[1, 0], [-1, 0], [0, 2], [0, -2]]: mean 0, Cov = diag(2/4, 8/4) = diag(0.5, 2), no covariance.
    # exp(logvar) = 1 everywhere: E[Sigma] = I, so type ii sees diag(1.5, 3).
    mu = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    logvar = torch.zeros(4, 2)
    torch.testing.assert_close(dip_covariance(mu, logvar, "i"), torch.diag(torch.tensor([0.5, 2.0])))
    torch.testing.assert_close(dip_covariance(mu, logvar, "ii"), torch.diag(torch.tensor([1.5, 3.0])))
    p = ForwardPass(x=mu, x_in=mu, code=mu, z=mu, out=mu, logvar=logvar)
    # i: lambda_d * ((0.5 - 1)^2 + (2 - 1)^2) = 3 * 1.25; ii: 3 * (0.25 + 4) = 12.75.
    assert float(DIPCovariance(7.0, 3.0, "i")(None, p)) == pytest.approx(3.75)
    assert float(DIPCovariance(7.0, 3.0, "ii")(None, p)) == pytest.approx(12.75)
    # Rows (1, 1) and (-1, -1): Cov = [[1, 1], [1, 1]]; type i charges lambda_od * 2 * 1^2 off the diagonal.
    mu = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    p = ForwardPass(x=mu, x_in=mu, code=mu, z=mu, out=mu, logvar=torch.zeros(2, 2))
    assert float(DIPCovariance(7.0, 3.0, "i")(None, p)) == pytest.approx(14.0)


def test_permuted_dims_keep_every_marginal_and_lose_the_dependence():
    torch.manual_seed(0)
    shared = torch.randn(2000, 1)
    z = torch.cat([shared, shared + 0.1 * torch.randn(2000, 1), torch.randn(2000, 1)], dim=1)
    permuted = permute_dims(z)
    torch.testing.assert_close(permuted.sort(dim=0).values, z.sort(dim=0).values)
    assert torch.corrcoef(z.T)[0, 1] > 0.99
    assert torch.corrcoef(permuted.T)[0, 1].abs() < 0.1
    assert not torch.equal(permuted[:, 0], z[:, 0]) and not torch.equal(permuted[:, 0], permuted[:, 2])


def test_the_total_correlation_term_is_the_discriminators_logit_per_sample():
    class Module(torch.nn.Module):
        adversary = torch.nn.Linear(2, 1)

    module = Module()
    z = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 0.5]])
    p = ForwardPass(x=z, x_in=z, code=z, z=z, out=z)
    torch.testing.assert_close(DiscriminatorTotalCorrelation(35.0)(module, p), module.adversary(z)[:, 0])


# ---------------------------------------------------------------------------- defining properties
@pytest.fixture(scope="module")
def flat_digits(digits_split):
    X_train, _, X_test, _ = digits_split
    return X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)


@pytest.fixture(scope="module")
def vae_codes(flat_digits):
    X_train, X_test = flat_digits
    return aekit.VAE(latent_dim=6, random_state=0, **SMALL).fit(X_train).transform(X_test)


def test_factorvae_codes_have_less_total_correlation_than_the_vaes(flat_digits, vae_codes):
    X_train, X_test = flat_digits
    factor = aekit.FactorVAE(latent_dim=6, gamma=10.0, random_state=0, **SMALL).fit(X_train)
    tc_vae, tc_factor = gaussian_total_correlation(vae_codes), gaussian_total_correlation(factor.transform(X_test))
    assert tc_factor < 0.5 * tc_vae, (tc_factor, tc_vae)  # measured: 0.42 vs 2.37
    assert {"train_total_correlation", "val_total_correlation", "train_adversary"} <= set(factor.history_)
    assert factor.module_.adversary_optimizer == {"lr": 1e-4, "betas": (0.5, 0.9)}


def test_the_discriminator_learns_the_dependence_of_codes_left_alone():
    """With gamma=0 the VAE ignores it, so its codes keep their dependence and the discriminator's
    cross-entropy falls below chance (log 2) while its TC estimate rises."""
    X, _ = aekit.datasets.load_digits(images=False)
    free = aekit.FactorVAE(latent_dim=6, gamma=0.0, random_state=0, **SMALL).fit(X[:1400])
    adversary, tc = free.history_["train_adversary"], free.history_["val_total_correlation"]
    assert adversary[0] == pytest.approx(np.log(2), abs=0.01) and adversary[-1] < 0.67  # measured: 0.644
    assert abs(tc[0]) < 0.02 and tc[-1] > 0.1  # measured: 0.195 nats
    assert gaussian_total_correlation(free.transform(X[1400:])) > 1.0


def _dip_penalty(est, X, dip_type):
    """The DIP penalty (paper weights 10 and 100) of the held-out covariance the ``dip_type`` targets."""
    with torch.no_grad():
        mu, logvar = est.module_.posterior_params(est._to_tensor(X))
    covariance = dip_covariance(mu.double(), logvar.double(), dip_type).numpy()
    diagonal = np.diag(covariance)
    return 10 * ((covariance - np.diag(diagonal)) ** 2).sum() + 100 * ((diagonal - 1) ** 2).sum()


@pytest.mark.parametrize("dip_type", ["i", "ii"])
def test_dipvae_pulls_the_held_out_covariance_to_the_identity(flat_digits, dip_type):
    X_train, X_test = flat_digits
    params = dict(latent_dim=6, random_state=0, **SMALL)
    vae = aekit.VAE(**params).fit(X_train)
    dip = aekit.DIPVAE(dip_type=dip_type, **params).fit(X_train)
    # measured: i 23 vs 195, ii 0.69 vs 12.8
    assert _dip_penalty(dip, X_test, dip_type) < 0.25 * _dip_penalty(vae, X_test, dip_type)
    assert "train_dip" in dip.history_


# ---------------------------------------------------------------------------- files, resume, checks
# (Model files of both families: tests/test_families.py, with the other relatives.)
@pytest.mark.parametrize("cls", [aekit.FactorVAE, aekit.DIPVAE])
def test_an_interrupted_run_resumes_bit_for_bit(cls, digits, tmp_path, crash_after_checkpoint):
    """For FactorVAE the discriminator's weights and its Adam moments survive the restart too."""
    X, _ = digits
    params = dict(latent_dim=3, hidden=(16,), architecture="mlp", batch_size=64, random_state=1, epochs=4)
    with crash_after_checkpoint(lambda checkpoint, state: state.epoch == 2):
        cls(**params).fit(X[:500], checkpoint_dir=tmp_path)
    resumed = cls(**params).fit(X[:500], checkpoint_dir=tmp_path, resume=True)
    straight = cls(**params).fit(X[:500])
    for name, tensor in straight.module_.state_dict().items():
        torch.testing.assert_close(resumed.module_.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
    drop_seconds = lambda h: {k: v for k, v in h.items() if k not in ("seconds", "cpu_seconds")}  # noqa: E731
    assert drop_seconds(resumed.history_) == drop_seconds(straight.history_)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: aekit.FactorVAE(gamma=-1.0), r"gamma must be a number in \[0.0, inf\]"),
        (lambda: aekit.FactorVAE(discriminator_hidden=(0,)), "discriminator_hidden must be a tuple of positive"),
        (lambda: aekit.FactorVAE(discriminator_hidden=None), "discriminator_hidden must be a tuple of positive"),
        (lambda: aekit.FactorVAE(discriminator_learning_rate=0.0), r"discriminator_learning_rate must be a number"),
        (lambda: aekit.FactorVAE(objective="iwae"), r"FactorVAE adds terms to the ELBO.*use objective='elbo'"),
        (lambda: aekit.DIPVAE(dip_type="iii"), r"dip_type must be one of \['i', 'ii'\]"),
        (lambda: aekit.DIPVAE(lambda_d=-2.0), r"lambda_d must be None \(the paper's choice\) or a number >= 0"),
        (lambda: aekit.DIPVAE(lambda_d="large"), r"lambda_d must be None .* got 'large'"),
        (lambda: aekit.DIPVAE(objective="iwae"), r"DIPVAE adds terms to the ELBO"),
        (lambda: aekit.BetaTCVAE(objective="iwae"), r"BetaTCVAE adds terms to the ELBO"),
    ],
)
def test_bad_parameters_are_refused_with_advice(digits, make, message):
    X, _ = digits
    with pytest.raises(ValueError, match=message):
        make().set_params(epochs=1).fit(X[:100])


def test_paper_defaults_and_the_diagonal_weight_of_each_dip_type():
    assert aekit.FactorVAE().gamma == 10.0 and aekit.FactorVAE().discriminator_learning_rate == 1e-4
    assert [term.lambda_d for term in (aekit.DIPVAE()._loss_terms()[-1], aekit.DIPVAE(dip_type="ii")._loss_terms()[-1])] == [100.0, 10.0]
    assert aekit.DIPVAE(lambda_d=3)._loss_terms()[-1].lambda_d == 3.0


def test_too_few_rows_for_the_batch_statistics_are_refused(digits):
    X, _ = digits
    for cls in (aekit.FactorVAE, aekit.DIPVAE):
        with pytest.raises(ValueError, match="at least 2 rows"):
            cls(validation_fraction=0.7, epochs=1).fit(X[:3])
