"""Normalizing flows: change of variables, invertibility, log-determinants, a short fit."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.datasets import make_moons

from aekit.models.flows import (
    ActNorm,
    AffineCoupling,
    Flow,
    InverseAutoregressive,
    MaskedAffineAutoregressive,
    Permutation,
    Reverse,
    make_flow,
)

torch.set_num_threads(1)

DIM = 5  # odd, so the coupling halves differ in size
CONTEXT_DIM = 3


def _randomized(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """The module with every parameter redrawn: the zero-initialised output layers
    would otherwise make each layer the identity, and every check trivially true.

    ActNorms are marked initialised, or the first batch would overwrite them.  The
    scale 0.25 gives log-dets of about one nat per layer; at 0.5 the stacked flows
    stretch samples to |z| ~ 300 and float32 round trips miss 1e-5 (float64: 1e-11).
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.25 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
        for m in module.modules():
            if isinstance(m, ActNorm):
                m.initialized.fill_(True)
    return module


LAYERS = {
    "actnorm": lambda: ActNorm(DIM, data_init=False),
    "permutation": lambda: Permutation([2, 0, 4, 1, 3]),
    "reverse": lambda: Reverse(DIM),
    "coupling_even": lambda: AffineCoupling(DIM, (16, 16), parity=0),
    "coupling_odd_context": lambda: AffineCoupling(DIM, (16,), parity=1, context_dim=CONTEXT_DIM),
    "maf": lambda: MaskedAffineAutoregressive(DIM, (16, 16)),
    "maf_context": lambda: MaskedAffineAutoregressive(DIM, (16,), context_dim=CONTEXT_DIM),
    "iaf_context": lambda: InverseAutoregressive(DIM, (16, 16), context_dim=CONTEXT_DIM),
    "flow_realnvp": lambda: make_flow(DIM, 3, (16,), "realnvp", context_dim=CONTEXT_DIM),
    "flow_maf": lambda: make_flow(DIM, 3, (16,), "maf", context_dim=CONTEXT_DIM),
}


def _layer_and_data(name: str, n: int = 64, dtype: torch.dtype = torch.float32):
    torch.manual_seed(1)
    layer = _randomized(LAYERS[name]()).to(dtype)
    x = torch.randn(n, DIM, dtype=dtype)
    context = torch.randn(n, CONTEXT_DIM, dtype=dtype)
    if isinstance(layer, Flow):
        # As layers: forward is data -> base.
        return layer.transform, layer.inverse, x, context
    return layer.forward, layer.inverse, x, context


def test_one_elementwise_affine_layer_is_exactly_a_diagonal_gaussian():
    loc = torch.tensor([0.5, -2.0, 3.0])
    scale = torch.tensor([0.3, 1.0, 2.5])
    layer = ActNorm(3, data_init=False)
    with torch.no_grad():
        layer.loc.copy_(loc)
        layer.log_scale.copy_(scale.log())
    flow = Flow([layer], dim=3)
    x = torch.randn(100, 3) * 3
    expected = torch.distributions.Normal(loc, scale).log_prob(x).sum(1)
    torch.testing.assert_close(flow.log_prob(x), expected, atol=1e-5, rtol=1e-6)


def test_actnorm_data_init_standardizes_the_first_batch():
    x = torch.randn(500, 4) * torch.tensor([1.0, 2.0, 0.5, 3.0]) + 7.0
    y, _ = ActNorm(4)(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(0, unbiased=False), torch.ones(4), atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", LAYERS)
def test_inverse_undoes_forward_and_negates_the_log_det(name):
    forward, inverse, x, context = _layer_and_data(name)
    y, log_det_forward = forward(x, context)
    x_back, log_det_inverse = inverse(y, context)
    assert y.shape == x.shape and log_det_forward.shape == (len(x),)
    torch.testing.assert_close(x_back, x, atol=1e-5, rtol=0)
    torch.testing.assert_close(log_det_inverse, -log_det_forward, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", LAYERS)
def test_log_det_equals_log_abs_det_of_the_autograd_jacobian(name):
    forward, _, x, context = _layer_and_data(name, n=3, dtype=torch.float64)
    _, log_det = forward(x, context)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(
            lambda v: forward(v[None], context[i : i + 1])[0][0], x[i]
        )
        torch.testing.assert_close(log_det[i], torch.linalg.slogdet(jac)[1], atol=1e-8, rtol=1e-8)


def test_iaf_step_is_autoregressive_with_the_gate_on_the_diagonal():
    torch.manual_seed(0)
    step = _randomized(InverseAutoregressive(DIM, (16, 16), context_dim=CONTEXT_DIM)).double()
    z = torch.randn(1, DIM, dtype=torch.float64)
    h = torch.randn(1, CONTEXT_DIM, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: step(v[None], h)[0][0], z[0])
    # z'_i depends on z_<=i only, with dz'_i/dz_i = sigma_i: log-det = sum log sigma.
    torch.testing.assert_close(jac, jac.tril())
    m, logit = step.made(z, h)
    sigma = torch.sigmoid(logit + step.gate_bias)
    torch.testing.assert_close(jac.diagonal(), sigma[0])
    z_next, log_det = step(z, h)
    torch.testing.assert_close(z_next, (1 - sigma) * m + sigma * z)
    torch.testing.assert_close(log_det, sigma.log().sum(1))
    # The encoder's context changes the step.
    assert not torch.allclose(step(z, h + 1.0)[0], z_next)


@pytest.mark.parametrize("kind", ["realnvp", "maf"])
def test_log_prob_of_samples_matches_the_sampling_path(kind):
    torch.manual_seed(0)
    flow = _randomized(make_flow(DIM, 3, (16,), kind))
    x, log_prob_path = flow.sample_with_log_prob(200, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(flow.log_prob(x), log_prob_path, atol=1e-4, rtol=1e-5)
    # Same generator seed, same samples.
    torch.testing.assert_close(flow.sample(200, generator=torch.Generator().manual_seed(3)), x)


def _two_moons(n: int) -> torch.Tensor:
    X, _ = make_moons(n, noise=0.05, random_state=0)
    X = (X - X.mean(0)) / X.std(0)
    return torch.tensor(X, dtype=torch.float32)


@pytest.mark.parametrize("kind", ["realnvp", "maf"])
def test_short_fit_on_two_moons_beats_a_gaussian_by_a_wide_margin(kind):
    X = _two_moons(1500)
    train, test = X[:1000], X[1000:]
    gaussian = torch.distributions.MultivariateNormal(train.mean(0), torch.cov(train.T))
    gaussian_ll = gaussian.log_prob(test).mean().item()  # measured: -2.72 nats

    torch.manual_seed(0)
    flow = make_flow(2, n_layers=4, hidden=(32, 32), kind=kind)
    optimizer = torch.optim.Adam(flow.parameters(), lr=5e-3)
    for _ in range(300):
        loss = -flow.log_prob(train).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        flow_ll = flow.log_prob(test).mean().item()  # measured: -1.38 (realnvp), -1.42 (maf)
    assert math.isfinite(flow_ll)
    assert flow_ll > gaussian_ll + 1.0
