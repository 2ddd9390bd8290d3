"""The unit layer under the end-to-end tests: likelihoods, loss terms and the trainer on fixed tensors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D
from torch import nn

from aekit.models import (
    BaseModule,
    Contraction,
    ForwardPass,
    GaussianKL,
    KLSparsity,
    L1Activity,
    LossTerm,
    Reconstruction,
)
from aekit.models.tcvae import TotalCorrelation
from aekit.models.terms import jacobian_squared_norm, jacobian_squared_norm_estimate
from aekit.models.wae import MMDToPrior
from aekit.nn.likelihoods import Bernoulli, Gaussian, SquaredError
from aekit.train import Trainer, TrainConfig, evaluate_terms
from aekit.train.trainer import batched

GEN = torch.Generator().manual_seed(0)
X = torch.rand(5, 3, generator=GEN)
OUT = torch.randn(5, 3, generator=GEN)
MU = torch.randn(5, 4, generator=GEN)
LOGVAR = torch.randn(5, 4, generator=GEN) * 0.5


def _pass(code: torch.Tensor = MU, logvar: torch.Tensor | None = LOGVAR, z: torch.Tensor | None = None) -> ForwardPass:
    return ForwardPass(x=X, x_in=X, code=code, z=code if z is None else z, out=OUT, logvar=logvar)


# ---------------------------------------------------------------------------- likelihoods
def test_bernoulli_is_minus_the_log_prob_of_torch_distributions():
    binary = (X > 0.5).float()  # torch's Bernoulli validates its support: binary targets
    torch.testing.assert_close(Bernoulli().nll(OUT, binary), -D.Bernoulli(logits=OUT).log_prob(binary).sum(1))
    # For targets in (0, 1) the loss is the cross-entropy to the continuous Bernoulli's kernel.
    expected = -(X * torch.nn.functional.logsigmoid(OUT) + (1 - X) * torch.nn.functional.logsigmoid(-OUT)).sum(1)
    torch.testing.assert_close(Bernoulli().nll(OUT, X), expected)
    torch.testing.assert_close(Bernoulli().mean(OUT), torch.sigmoid(OUT))


def test_gaussian_is_minus_the_log_prob_of_torch_distributions():
    likelihood = Gaussian((3,))
    with torch.no_grad():
        likelihood.log_scale.copy_(torch.tensor([-1.0, 0.0, 0.7]))
    expected = -D.Normal(OUT, likelihood.log_scale.exp()).log_prob(X).sum(1)
    torch.testing.assert_close(likelihood.nll(OUT, X), expected)


def test_gaussian_scale_is_clamped_below():
    likelihood = Gaussian((3,))
    with torch.no_grad():
        likelihood.log_scale.fill_(-50.0)
    expected = -D.Normal(OUT, torch.full((3,), 1e-3)).log_prob(X).sum(1)
    torch.testing.assert_close(likelihood.nll(OUT, X), expected)


def test_squared_error_is_the_unit_gaussian_without_constants():
    expected = -D.Normal(OUT, 1.0).log_prob(X).sum(1) - 3 * 0.5 * math.log(2 * math.pi)
    torch.testing.assert_close(SquaredError().nll(OUT, X), expected * 2)


# ---------------------------------------------------------------------------- terms
def test_gaussian_kl_matches_torch_kl_divergence():
    posterior = D.Normal(MU, torch.exp(0.5 * LOGVAR))
    expected = D.kl_divergence(posterior, D.Normal(torch.zeros_like(MU), 1.0)).sum(1)
    torch.testing.assert_close(GaussianKL()(None, _pass()), expected)


def test_free_bits_charge_each_dimension_at_least_its_floor_but_report_the_true_kl():
    term = GaussianKL(free_bits=0.5)
    value = term(None, _pass())
    per_dim = D.kl_divergence(D.Normal(MU, torch.exp(0.5 * LOGVAR)), D.Normal(0.0, 1.0)).mean(0)
    torch.testing.assert_close(term.charged(value, _pass()), per_dim.clamp(min=0.5).sum())
    torch.testing.assert_close(value, GaussianKL()(None, _pass()))


def test_warm_up_is_a_closed_form_of_the_epoch():
    term = GaussianKL(weight=2.0, warmup_epochs=4)
    assert [term.weight_at(e) for e in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert term.weight_at(None) == 2.0 and LossTerm(3.0).weight_at(0) == 3.0


def test_activity_terms_on_fixed_codes():
    code = torch.tensor([[0.1, -0.2], [0.3, 0.0]])
    torch.testing.assert_close(L1Activity(1.0)(None, _pass(code, None)), torch.tensor([0.3, 0.3]))
    rates = torch.tensor([0.2, 0.1])  # the two units' mean activation over the batch
    sparsity = KLSparsity(1.0, target=0.1)(None, _pass(torch.tensor([[0.3, 0.1], [0.1, 0.1]]), None))
    expected = (0.1 * torch.log(0.1 / rates) + 0.9 * torch.log(0.9 / (1 - rates))).sum()
    torch.testing.assert_close(sparsity, expected)


def test_contraction_of_a_linear_encoder_is_its_weight_norm():
    module = nn.Module()
    module.encoder = nn.Linear(3, 2)
    expected = module.encoder.weight.square().sum().expand(5)
    torch.testing.assert_close(Contraction(1.0)(module, _pass()), expected)


def test_projection_estimate_of_the_jacobian_norm_is_unbiased():
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(20, 30), nn.Tanh(), nn.Linear(30, 5))
    x = torch.randn(4, 20)
    exact = jacobian_squared_norm(encoder, x).detach()
    with torch.no_grad():
        estimate = jacobian_squared_norm_estimate(encoder, x, n_projections=4000)
    torch.testing.assert_close(estimate, exact, rtol=0.05, atol=0.0)  # standard error ~ sqrt(2/4000) = 2%
    one = jacobian_squared_norm_estimate(encoder, x)
    one.sum().backward()  # differentiable with respect to the weights
    assert encoder[0].weight.grad is not None and encoder[0].weight.grad.abs().sum() > 0


def test_total_correlation_matches_the_minibatch_weighted_formula_written_out():
    z = MU + torch.exp(0.5 * LOGVAR) * torch.randn(5, 4, generator=GEN)
    dataset_size, n = 100, 5
    value = TotalCorrelation(1.0, dataset_size)(None, _pass(z=z))
    for i in range(n):
        log_q = torch.stack([D.Normal(MU[j], torch.exp(0.5 * LOGVAR[j])).log_prob(z[i]) for j in range(n)])  # (n, d)
        joint = torch.logsumexp(log_q.sum(1), 0) - math.log(n * dataset_size)
        marginals = (torch.logsumexp(log_q, 0) - math.log(n * dataset_size)).sum()
        torch.testing.assert_close(value[i], joint - marginals)


def test_mmd_is_near_zero_for_prior_codes_and_large_for_shifted_ones():
    torch.manual_seed(0)
    prior_like = torch.randn(400, 3)
    assert abs(float(MMDToPrior(1.0)(None, _pass(prior_like, None)))) < 0.01
    assert float(MMDToPrior(1.0)(None, _pass(prior_like + 3.0, None))) > 0.3


# ---------------------------------------------------------------------------- the module's sum
class _Toy(BaseModule):
    """A two-parameter module: code = a * x, reconstruction = b * code; loss terms on fixed data."""

    def __init__(self, terms):
        super().__init__(terms)
        self.a = nn.Parameter(torch.tensor(0.5))
        self.b = nn.Parameter(torch.tensor(0.5))
        self.likelihood = SquaredError()

    def forward_pass(self, x, condition=None):
        x, x_in = self.training_inputs(x)
        code = self.a * x_in
        return ForwardPass(x=x, x_in=x_in, code=code, z=code, out=self.b * code, condition=condition)


class _BatchSize(LossTerm):
    name = "rows"
    min_batch = 3

    def forward(self, module, p):
        return torch.tensor(float(p.x.shape[0]))


def test_loss_is_the_weighted_sum_of_charged_terms_and_every_term_is_reported():
    toy = _Toy([Reconstruction(), L1Activity(0.25, warmup_epochs=2)])
    terms = toy.loss_terms(X, epoch=0)
    reconstruction = (0.25 * X - X).square().sum(1)
    torch.testing.assert_close(terms["reconstruction"], reconstruction)
    torch.testing.assert_close(terms["loss"], reconstruction + 0.125 * (0.5 * X).abs().sum(1))
    torch.testing.assert_close(toy.loss_terms(X)["loss"], reconstruction + 0.25 * (0.5 * X).abs().sum(1))


def test_batches_never_hand_a_term_fewer_rows_than_it_declares():
    assert [s.stop - s.start for s in batched(10, 4, min_batch=3)] == [4, 6]
    assert [s.stop - s.start for s in batched(10, 4)] == [4, 4, 2]
    assert [s.stop - s.start for s in batched(2, 4, min_batch=3)] == [2]
    toy = _Toy([Reconstruction(), _BatchSize(0.0)])
    assert toy.min_batch == 3
    history = Trainer(TrainConfig(epochs=1, batch_size=4, early_stopping=False)).fit(toy, torch.rand(10, 3))
    assert history["train_rows"] == [pytest.approx((4 * 4 + 6 * 6) / 10)]  # row-weighted mean of batch sizes
    with pytest.raises(ValueError, match="at least 3 rows"):
        Trainer(TrainConfig(epochs=1)).fit(toy, torch.rand(2, 3))


def test_trainer_fits_the_toy_module_to_the_identity():
    torch.manual_seed(0)
    x = torch.randn(256, 3)
    toy = _Toy([Reconstruction()])
    history = Trainer(TrainConfig(epochs=60, batch_size=32, learning_rate=0.05, early_stopping=False)).fit(toy, x)
    assert history["train_loss"][-1] < 1e-3 * history["train_loss"][0]
    assert abs(float((toy.a * toy.b).detach()) - 1.0) < 1e-2  # the only minimum: code and decoder scale multiply to 1
    assert evaluate_terms(toy, x)["loss"] < 1e-3


class _Game(_Toy):
    """The toy plus a one-parameter adversary ``c``: the model's loss rises with ``c``, the adversary wants c = a."""

    adversary_optimizer = {"lr": 0.2}

    def __init__(self):
        super().__init__([Reconstruction()])
        self.adversary = nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            self.adversary.weight.fill_(0.3)

    def loss_terms(self, x, condition=None, epoch=None):
        terms = super().loss_terms(x, condition, epoch)
        return {**terms, "loss": terms["loss"] + self.adversary.weight.squeeze() * self.a}

    def adversary_loss(self, x, condition=None, epoch=None):
        return (self.adversary.weight.squeeze() - self.a).square()


def test_the_adversary_moves_only_on_its_own_loss_at_its_own_rate_and_the_model_only_on_its_own():
    game = _Game()
    a0, b0, c0 = game.a.item(), game.b.item(), game.adversary.weight.item()
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(1))
    history = Trainer(
        TrainConfig(epochs=1, batch_size=8, solver="sgd", momentum=0.0, learning_rate=0.1, early_stopping=False)
    ).fit(game, x)
    # One SGD step, gradients taken at the starting weights.
    a, b = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    model_loss = (a * b * x - x).square().sum(1).mean() + c0 * a
    grad_a, grad_b = torch.autograd.grad(model_loss, (a, b))
    assert float(game.a) == pytest.approx(a0 - 0.1 * float(grad_a))
    assert float(game.b) == pytest.approx(b0 - 0.1 * float(grad_b))
    assert game.adversary.weight.item() == pytest.approx(c0 - 0.2 * 2 * (c0 - a0))
    assert history["train_adversary"] == [pytest.approx((c0 - a0) ** 2)]
