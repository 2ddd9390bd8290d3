"""The RBM torch core against brute force, exact sums and scikit-learn, on tiny models."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.neural_network import BernoulliRBM

from aekit.models.rbm import (
    RBMModule,
    base_rate_visible_bias,
    estimate_log_partition,
    log_mean_exp_with_error,
    log_partition_exact,
)

torch.set_num_threads(1)


def random_rbm(n_visible: int, n_hidden: int, visible: str, scale: float, seed: int) -> RBMModule:
    """An RBM with normal weights and biases of standard deviation ``scale``."""
    generator = torch.Generator().manual_seed(seed)
    module = RBMModule(n_visible, n_hidden, visible=visible).double()
    with torch.no_grad():
        for parameter in module.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
            parameter.copy_(noise * scale)
    return module


def all_binary_states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def energy(module: RBMModule, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``E(v, h)`` for every pair of rows, shape ``(len(v), len(h))``, from the definition."""
    if module.visible == "bernoulli":
        visible_term = -(v @ module.visible_bias)
    else:
        visible_term = 0.5 * (v - module.visible_bias).square().sum(1)
    return visible_term[:, None] - (h @ module.hidden_bias)[None, :] - v @ module.weight.T @ h.T


def prototype_data(
    n_samples: int, n_visible: int, n_prototypes: int, noise: float, seed: int
) -> torch.Tensor:
    """Binary samples: random prototype patterns, each bit flipped with probability ``noise``."""
    generator = torch.Generator().manual_seed(seed)
    prototypes = (torch.rand(n_prototypes, n_visible, generator=generator) < 0.5).float()
    samples = prototypes[torch.randint(0, n_prototypes, (n_samples,), generator=generator)]
    flips = (torch.rand(n_samples, n_visible, generator=generator) < noise).float()
    return (samples + flips) % 2


def train_cd(
    module: RBMModule, data: torch.Tensor, steps: int, lr: float, seed: int, n_persistent: int = 0
) -> RBMModule:
    """Full-batch CD-1, or PCD-1 with ``n_persistent`` chains, by SGD with momentum."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(module.parameters(), lr=lr, momentum=0.5, weight_decay=1e-4)
    chains = data[:n_persistent].clone() if n_persistent else None
    for _ in range(steps):
        model_samples = module.negative_samples(
            data, 1, persistent_chains=chains, generator=generator
        )
        if chains is not None:
            chains = model_samples
        optimizer.zero_grad()
        module.cd_loss(data, model_samples).backward()
        optimizer.step()
    return module


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_free_energy_is_minus_log_sum_over_hidden_states(visible):
    module = random_rbm(5, 4, visible, scale=1.0, seed=0)
    generator = torch.Generator().manual_seed(1)
    if visible == "bernoulli":
        v = all_binary_states(5)
    else:
        v = torch.randn(7, 5, generator=generator, dtype=torch.float64) * 2
    brute_force = -torch.logsumexp(-energy(module, v, all_binary_states(4)), 1)
    torch.testing.assert_close(module.free_energy(v), brute_force.detach())


def test_exact_log_partition_matches_sum_over_all_visible_and_hidden_states():
    module = random_rbm(6, 4, "bernoulli", scale=1.0, seed=2)
    energies = energy(module, all_binary_states(6), all_binary_states(4))
    brute_force = torch.logsumexp(-energies.flatten(), 0)
    assert log_partition_exact(module) == pytest.approx(brute_force.item(), abs=1e-10)


def test_exact_log_partition_of_gaussian_units_matches_quadrature():
    module = random_rbm(2, 3, "gaussian", scale=0.7, seed=3)
    # exp(-F) is negligible beyond 12 of the Gaussian's widths from the origin here.
    grid = torch.linspace(-12, 12, 1201, dtype=torch.float64)
    spacing = (grid[1] - grid[0]).item()
    points = torch.cartesian_prod(grid, grid)
    with torch.no_grad():
        log_integrand = -module.free_energy(points)
    quadrature = torch.logsumexp(log_integrand, 0).item() + 2 * math.log(spacing)
    assert log_partition_exact(module) == pytest.approx(quadrature, abs=1e-8)


def test_exact_log_partition_refuses_too_many_hidden_units():
    with pytest.raises(ValueError, match="n_hidden > 25"):
        log_partition_exact(RBMModule(3, 26))


def test_gibbs_chains_reach_the_exact_distribution():
    module = random_rbm(4, 3, "bernoulli", scale=1.0, seed=4)
    generator = torch.Generator().manual_seed(5)
    states = all_binary_states(4)
    with torch.no_grad():
        exact = torch.exp(-module.free_energy(states) - log_partition_exact(module))
        uniform = torch.full((20000, 4), 0.5, dtype=torch.float64)
        start = torch.bernoulli(uniform, generator=generator)
        samples = module.gibbs(start, steps=30, generator=generator)
    codes = (samples * torch.tensor([8.0, 4.0, 2.0, 1.0], dtype=torch.float64)).sum(1).long()
    empirical = torch.bincount(codes, minlength=16).double() / len(samples)
    # Sampling noise alone gives a total variation of about 0.01 with 20,000 chains.
    assert 0.5 * (empirical - exact).abs().sum().item() < 0.03


def test_cd_loss_gradient_is_data_minus_model_statistics():
    module = random_rbm(6, 3, "bernoulli", scale=0.5, seed=6)
    data = prototype_data(10, 6, 2, noise=0.1, seed=7).double()
    generator = torch.Generator().manual_seed(8)
    model_samples = module.negative_samples(data, steps=1, generator=generator)
    assert not model_samples.requires_grad
    module.cd_loss(data, model_samples).backward()
    with torch.no_grad():
        hidden_data = module.hidden_probabilities(data)
        hidden_model = module.hidden_probabilities(model_samples)
        weight_statistics = hidden_data.T @ data / 10 - hidden_model.T @ model_samples / 10
        hidden_statistics = hidden_data.mean(0) - hidden_model.mean(0)
        visible_statistics = data.mean(0) - model_samples.mean(0)
    torch.testing.assert_close(module.weight.grad, -weight_statistics)
    torch.testing.assert_close(module.hidden_bias.grad, -hidden_statistics)
    torch.testing.assert_close(module.visible_bias.grad, -visible_statistics)


def test_persistent_chains_keep_their_own_shape():
    module = RBMModule(6, 3)
    data, chains = torch.zeros(10, 6), torch.ones(4, 6)
    assert module.negative_samples(data, 2, persistent_chains=chains).shape == (4, 6)


# PCD takes a smaller step: at 0.1 the persistent chains lag behind the changing model
# and one seed in three stalled at -7.9 nats.
@pytest.mark.parametrize(("n_persistent", "lr"), [(0, 0.1), (100, 0.05)], ids=["cd1", "pcd1"])
def test_contrastive_divergence_raises_exact_log_likelihood(n_persistent, lr):
    data = prototype_data(200, 12, 2, noise=0.05, seed=9)
    module = RBMModule(12, 8, generator=torch.Generator().manual_seed(10))

    def mean_log_likelihood() -> float:
        with torch.no_grad():
            return module.log_likelihood(data, log_partition_exact(module)).mean().item()

    before = mean_log_likelihood()
    train_cd(module, data, steps=300, lr=lr, seed=11, n_persistent=n_persistent)
    after = mean_log_likelihood()
    # Near-zero weights start at 12 log(1/2) = -8.3 nats; the generating mixture itself
    # scores -(12 H(0.05) + log 2) = -3.1.
    assert before == pytest.approx(-12 * math.log(2), abs=0.1)
    assert after > -4.0


def test_pseudo_log_likelihood_matches_scikit_learn():
    module = random_rbm(8, 5, "bernoulli", scale=1.0, seed=12)
    data = prototype_data(30, 8, 3, noise=0.1, seed=13).double()
    sklearn_rbm = BernoulliRBM(n_components=5, random_state=14)
    sklearn_rbm.components_ = module.weight.detach().numpy().copy()
    sklearn_rbm.intercept_hidden_ = module.hidden_bias.detach().numpy().copy()
    sklearn_rbm.intercept_visible_ = module.visible_bias.detach().numpy().copy()
    sklearn_rbm.n_features_in_ = 8
    expected = sklearn_rbm.score_samples(data.numpy())
    # score_samples draws its flipped units from RandomState(random_state) like this.
    flip_indices = torch.from_numpy(np.random.RandomState(14).randint(0, 8, 30))
    with torch.no_grad():
        ours = module.pseudo_log_likelihood(data, flip_indices=flip_indices)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)


N_GROUPS, CHAINS_PER_GROUP = 20, 100


@pytest.mark.parametrize("n_hidden", [2, 5, 10, 15, 20])
def test_ais_agrees_with_exact_log_partition_within_its_standard_error(n_hidden):
    # A CD-trained RBM has the structured, moderately large weights (std 0.7-2.5 here)
    # that make AIS hard, unlike a small random matrix.
    data = prototype_data(300, 20, 4, noise=0.05, seed=0)
    initial = RBMModule(20, n_hidden, generator=torch.Generator().manual_seed(n_hidden))
    module = train_cd(initial, data, steps=400, lr=0.1, seed=0)
    exact = log_partition_exact(module)
    result = estimate_log_partition(
        module,
        n_chains=N_GROUPS * CHAINS_PER_GROUP,
        n_betas=1000,
        generator=torch.Generator().manual_seed(1),
        base_visible_bias=base_rate_visible_bias(data),
    )
    assert result.log_partition_path[0] == result.log_partition_base
    assert result.log_partition_path[-1].item() == pytest.approx(result.log_partition, abs=1e-9)

    # The SE is one standard deviation, so an honest one contains the truth only about
    # 68% of the time: demanding |error| < SE of every estimate would pass or fail by the
    # seed.  Instead: the SE matches the spread of independent estimates, it contains
    # the truth at about the normal rate, and the pooled estimate is within 3 SE (the
    # paper's bracket).
    groups = [
        log_mean_exp_with_error(weights)
        for weights in result.log_weights.view(N_GROUPS, CHAINS_PER_GROUP)
    ]
    group_estimates = torch.tensor([result.log_partition_base + log_mean for log_mean, _ in groups])
    group_errors = torch.tensor([standard_error for _, standard_error in groups])
    # With 20 groups the sample spread itself is uncertain by about 16%.
    assert 0.6 < group_estimates.std().item() / group_errors.mean().item() < 1.6
    coverage = ((group_estimates - exact).abs() < group_errors).double().mean().item()
    assert 0.4 <= coverage <= 0.95
    assert abs(result.log_partition - exact) < 3 * result.standard_error
    # And the pooled SE is the group SE shrunk by sqrt(number of groups).
    shrunk_group_error = group_errors.mean().item() / math.sqrt(N_GROUPS)
    assert result.standard_error == pytest.approx(shrunk_group_error, rel=0.3)


def test_ais_with_gaussian_visible_units():
    module = random_rbm(10, 8, "gaussian", scale=0.3, seed=15)
    generator = torch.Generator().manual_seed(16)
    result = estimate_log_partition(module, n_chains=500, n_betas=500, generator=generator)
    assert abs(result.log_partition - log_partition_exact(module)) < 3 * result.standard_error


def test_ais_takes_an_explicit_schedule_and_rejects_a_bad_one():
    module = random_rbm(6, 4, "bernoulli", scale=0.5, seed=17)
    by_count = estimate_log_partition(module, 50, 30, generator=torch.Generator().manual_seed(18))
    schedule = torch.linspace(0, 1, 30, dtype=torch.float64)
    by_schedule = estimate_log_partition(
        module, 50, betas=schedule, generator=torch.Generator().manual_seed(18)
    )
    assert by_schedule.log_partition == by_count.log_partition
    with pytest.raises(ValueError, match="increase"):
        estimate_log_partition(module, 50, betas=torch.tensor([0.0, 0.6, 0.4, 1.0]))
