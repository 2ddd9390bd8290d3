"""aekit.metrics.disentanglement on codes whose answer is known, and on hand-computed tables."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from aekit import metrics
from aekit.data import render_shapes, sample_shapes_factors, shapes_factor_grid
from aekit.metrics.disentanglement import _weighted_one_minus_entropy

pytestmark = pytest.mark.usefixtures("single_blas_thread")

LOG2 = np.log(2)


@pytest.fixture(scope="module")
def factor_codes():
    """Three independent factors with 4 values each, and three codes of them.

    ``aligned`` is the factors themselves (plus a little noise), ``mixed`` a random
    rotation of them (every dim carries every factor), ``noise`` unrelated to them.
    """
    rng = np.random.RandomState(0)
    factors = rng.randint(0, 4, size=(600, 3)).astype(float)
    rotation, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    return {
        "factors": factors,
        "aligned": factors + 0.05 * rng.standard_normal(factors.shape),
        "mixed": factors @ rotation,
        "noise": rng.standard_normal(factors.shape),
    }


# ---------------------------------------------------------------- MIG
def test_mig_on_hand_computed_tables():
    # Two binary factors over four equally likely rows: H(v1) = H(v2) = log 2.
    v1 = np.array([0, 0, 1, 1])
    v2 = np.array([0, 1, 0, 1])
    factors = np.stack([v1, v2], axis=1)
    # Codes = factors: I(z1; v1) = log 2, I(z2; v1) = 0 (v1, v2 independent here), so each
    # gap is log 2 / log 2 = 1.
    assert metrics.mig(factors, factors) == pytest.approx(1.0)
    # z1 = z2 = v1 and z3 = v1 AND v2 = [0, 0, 0, 1].
    # I(z3; v1): p(z3, v1) = {(0,0): 1/2, (0,1): 1/4, (1,1): 1/4}, p(z3=0) = 3/4, p(v1=.) = 1/2:
    #   1/2 log((1/2)/(3/8)) + 1/4 log((1/4)/(3/8)) + 1/4 log((1/4)/(1/8))
    #   = 1/2 log(4/3) + 1/4 log(2/3) + 1/4 log 2 = 3/4 log(4/3); the same for v2 by symmetry.
    # v1: MIs (log 2, log 2, 3/4 log(4/3)) -> gap 0, captured twice.
    # v2: MIs (0, 0, 3/4 log(4/3)) -> gap 3/4 log(4/3) / log 2.
    # MIG = (0 + 3/4 log2(4/3)) / 2 = 0.155639...
    codes = np.stack([v1, v1, v1 & v2], axis=1)
    assert metrics.mig(codes, factors) == pytest.approx(0.375 * np.log(4 / 3) / LOG2)
    assert metrics.mig(codes, factors) == pytest.approx(0.155639, abs=1e-6)


def test_mig_bins_codes_into_equal_width_bins():
    # z = [0, .1, .9, 1]: with 2 bins (edges 0, .5, 1) it reads [1, 1, 2, 2] = v1, so the
    # codes are (v1, v2) and MIG = 1.  With 20 bins (width .05) its four values fall in
    # four bins, so z determines both factors: I(z; v1) = I(z; v2) = log 2.  Then v1 has the
    # gap log 2 - I(v2; v1) = log 2 -> 1, and v2 ties z with the code v2 -> 0: MIG = 1/2.
    factors = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    codes = np.stack([[0.0, 0.1, 0.9, 1.0], factors[:, 1]], axis=1)
    assert metrics.mig(codes, factors, n_bins=2) == pytest.approx(1.0)
    assert metrics.mig(codes, factors, n_bins=20) == pytest.approx(0.5)


def test_mig_is_high_for_aligned_low_for_mixed_and_zero_for_noise(factor_codes):
    factors = factor_codes["factors"]
    aligned = metrics.mig(factor_codes["aligned"], factors)
    assert aligned > 0.95
    assert metrics.mig(factor_codes["mixed"], factors) < aligned / 2
    assert metrics.mig(factor_codes["noise"], factors) < 0.05


def test_mig_bins_a_continuous_factor_and_uses_a_few_valued_one_as_it_is():
    rng = np.random.RandomState(0)
    continuous = rng.uniform(size=500)
    few_values = rng.randint(0, 3, size=500)
    factors = np.stack([continuous, few_values], axis=1)
    assert metrics.mig(factors, factors) > 0.95


# ---------------------------------------------------------------- DCI
def test_dci_weighting_on_a_hand_computed_importance_matrix():
    # R (code dims x factors) = [[2, 0], [1, 1]].
    # Disentanglement: dim 1 -> P = (1, 0), H = 0, D1 = 1; dim 2 -> P = (1/2, 1/2), H = 1, D2 = 0;
    #   weights rho = (2/4, 2/4): D = 1/2.
    # Completeness: factor 1 -> P = (2/3, 1/3), H2 = log2 3 - 2/3, C1 = 5/3 - log2 3;
    #   factor 2 -> P = (0, 1), C2 = 1; weights (3/4, 1/4):
    #   C = 3/4 (5/3 - log2 3) + 1/4 = 3/2 - 3/4 log2 3 = 0.311278...
    importance = np.array([[2.0, 0.0], [1.0, 1.0]])
    assert _weighted_one_minus_entropy(importance) == pytest.approx(0.5)
    assert _weighted_one_minus_entropy(importance.T) == pytest.approx(1.5 - 0.75 * np.log2(3))
    # A one-to-one matrix is perfectly disentangled and complete; a uniform one not at all.
    assert _weighted_one_minus_entropy(np.diag([3.0, 1.0, 2.0])) == pytest.approx(1.0)
    assert _weighted_one_minus_entropy(np.ones((3, 3))) == pytest.approx(0.0)


def test_dci_is_high_for_aligned_low_for_mixed_and_noise(factor_codes):
    factors = factor_codes["factors"]
    aligned = metrics.dci(factor_codes["aligned"], factors, n_estimators=30)
    assert aligned.disentanglement > 0.9 and aligned.completeness > 0.9
    assert aligned.informativeness > 0.95
    assert aligned.importance.shape == (3, 3)
    np.testing.assert_array_equal(aligned.importance.argmax(axis=0), [0, 1, 2])
    mixed = metrics.dci(factor_codes["mixed"], factors, n_estimators=30)
    assert mixed.disentanglement < aligned.disentanglement / 2
    assert mixed.completeness < aligned.completeness / 2
    assert mixed.informativeness > 0.9, "a rotation keeps the information, only spreads it"
    noise = metrics.dci(factor_codes["noise"], factors, n_estimators=30)
    assert noise.disentanglement < 0.1 and noise.completeness < 0.1
    assert noise.informativeness < 0.35  # chance: 1/4


# ---------------------------------------------------------------- SAP
def test_sap_continuous_on_a_hand_computed_table():
    # v1 = [0, 0, 1, 1], v2 = [0, 1, 0, 1] (independent, equal variance); z1 = v1, z2 = v1 + 2 v2.
    # R^2 = corr^2: S(z1, v1) = 1, S(z1, v2) = 0; z2 has variance 1 + 4 in units of var(v),
    # of which v1 explains 1 and v2 explains 4: S(z2, v1) = 1/5, S(z2, v2) = 4/5.
    # Gaps: v1 -> 1 - 1/5 = 4/5, v2 -> 4/5 - 0 = 4/5: SAP = 4/5.
    factors = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    codes = np.stack([factors[:, 0], factors[:, 0] + 2 * factors[:, 1]], axis=1)
    assert metrics.sap(codes, factors, continuous_factors=True) == pytest.approx(0.8)


def test_sap_is_high_for_aligned_low_for_mixed_and_zero_for_noise(factor_codes):
    factors = factor_codes["factors"]
    # Classification accuracies keep a chance floor (1/4 here) for the second-best dim, and
    # a 1-D linear SVM misses some middle values, so an aligned code scores about 1/2.
    aligned = metrics.sap(factor_codes["aligned"], factors)
    assert aligned > 0.4
    assert metrics.sap(factor_codes["mixed"], factors) < aligned / 2
    assert metrics.sap(factor_codes["noise"], factors) < 0.1
    assert metrics.sap(factor_codes["aligned"], factors, continuous_factors=True) > 0.95
    assert metrics.sap(factor_codes["noise"], factors, continuous_factors=True) < 0.05


def test_sap_on_binary_factors_reaches_one_minus_chance():
    rng = np.random.RandomState(1)
    factors = rng.randint(0, 2, size=(400, 2)).astype(float)
    # The matching dim classifies perfectly, the other one at chance (1/2).
    assert metrics.sap(factors, factors) == pytest.approx(0.5, abs=0.06)


# ---------------------------------------------------------------- FactorVAE score
def _integer_factors(n: int, rng: np.random.RandomState) -> np.ndarray:
    return rng.randint(0, 5, size=(n, 3)).astype(float)


def _identity(observations: np.ndarray) -> np.ndarray:
    return observations


def test_factor_vae_score_is_one_when_the_codes_are_the_factors():
    score = metrics.factor_vae_score(
        _identity, _integer_factors, _identity, batch_size=32, n_train=60, n_eval=60, n_variance_estimate=500
    )
    assert score == metrics.FactorVAEScores(1.0, 1.0, 3)


def test_factor_vae_score_prunes_a_collapsed_dim():
    def with_dead_dim(observations):
        return np.column_stack([observations, np.full(len(observations), 0.01)])

    score = metrics.factor_vae_score(
        with_dead_dim, _integer_factors, _identity, batch_size=32, n_train=60, n_eval=60, n_variance_estimate=500
    )
    assert score == metrics.FactorVAEScores(1.0, 1.0, 3)


def test_factor_vae_score_is_chance_for_codes_unrelated_to_the_data():
    noise = np.random.RandomState(5)

    def random_encoder(observations):
        return noise.standard_normal((len(observations), 3))

    score = metrics.factor_vae_score(
        random_encoder, _integer_factors, _identity, batch_size=16, n_train=300, n_eval=600, n_variance_estimate=500
    )
    assert score.eval_accuracy == pytest.approx(1 / 3, abs=0.08)


class _CentroidAndArea:
    """A hand-made encoder for shape images: (column centroid, row centroid, area), rescaled."""

    def transform(self, images):
        rows, cols = np.indices(images.shape[1:])
        area = images.sum(axis=(1, 2))
        return np.column_stack([
            (images * cols).sum(axis=(1, 2)) / area,
            (images * rows).sum(axis=(1, 2)) / area,
            area / 10,
        ])


def test_factor_vae_score_on_shapes_finds_the_position_factors():
    # The code holds pos_x, pos_y and (mostly) scale, one per dim; shape and orientation
    # are nowhere, so their votes are lost: about 3 of the 5 factors classify right.
    score = metrics.factor_vae_score(
        _CentroidAndArea(), sample_shapes_factors, partial(render_shapes, image_size=16),
        batch_size=16, n_train=100, n_eval=100, n_variance_estimate=500,
    )
    assert score.n_active_dims == 3
    assert 0.45 < score.eval_accuracy < 0.75


def test_factor_vae_score_warns_and_scores_zero_when_every_dim_collapsed():
    with pytest.warns(UserWarning, match="prune_threshold"):
        score = metrics.factor_vae_score(
            lambda x: 1e-3 * x, _integer_factors, _identity, n_train=5, n_eval=5, n_variance_estimate=100
        )
    assert score == metrics.FactorVAEScores(0.0, 0.0, 0)


def test_factor_vae_score_rejects_bad_encoders_and_samplers():
    with pytest.raises(TypeError, match="transform"):
        metrics.factor_vae_score(object(), _integer_factors, _identity)
    with pytest.raises(ValueError, match="sample_factors"):
        metrics.factor_vae_score(_identity, lambda n, rng: np.zeros(n), _identity)
    with pytest.raises(ValueError, match="one code per observation"):
        metrics.factor_vae_score(lambda x: x[:-1], _integer_factors, _identity)


def test_a_rendered_factor_grid_stands_in_for_the_renderer():
    images, factors = shapes_factor_grid(16, n_values={"orientation": 4, "pos_x": 8, "pos_y": 8})
    shuffled = np.random.RandomState(0).permutation(len(factors))  # a grid's rows may come in any order
    sampler = metrics.factor_grid_sampler(factors[shuffled], images[shuffled])
    drawn = sampler.sample_factors(300, np.random.RandomState(1))
    np.testing.assert_array_equal(sampler.render(drawn), render_shapes(drawn, 16))
    kwargs = dict(batch_size=16, n_train=100, n_eval=100, n_variance_estimate=500)
    from_grid = metrics.factor_vae_score(_CentroidAndArea(), *sampler, **kwargs)
    values = {"orientation": 4, "pos_x": 8, "pos_y": 8}
    rendered = metrics.factor_vae_score(
        _CentroidAndArea(), partial(sample_shapes_factors, n_values=values), partial(render_shapes, image_size=16),
        **kwargs,
    )  # fmt: skip
    assert from_grid.n_active_dims == rendered.n_active_dims == 3
    assert from_grid.eval_accuracy == pytest.approx(rendered.eval_accuracy, abs=0.15)


def test_factor_grid_sampler_rejects_incomplete_grids_and_values_off_the_grid():
    images, factors = shapes_factor_grid(16, n_values={"orientation": 2, "pos_x": 2, "pos_y": 2})
    with pytest.raises(ValueError, match="not a complete grid: .* make 144 combinations, but the 143 rows"):
        metrics.factor_grid_sampler(factors[1:], images[1:])
    with pytest.raises(ValueError, match="same grid points"):
        metrics.factor_grid_sampler(factors, images[1:])
    sampler = metrics.factor_grid_sampler(factors, images)
    off_grid = factors[:1].copy()
    off_grid[0, 3] = 0.5
    with pytest.raises(ValueError, match="factor column 3 holds values that are not in the grid"):
        sampler.render(off_grid)


# ---------------------------------------------------------------- Gaussian total correlation
def test_gaussian_total_correlation_is_zero_for_independent_dims():
    codes = np.random.RandomState(0).standard_normal((20000, 3)) * [1.0, 3.0, 0.2]
    assert metrics.gaussian_total_correlation(codes) == pytest.approx(0.0, abs=2e-3)


def test_gaussian_total_correlation_matches_the_closed_form():
    # For N(0, Sigma): TC = 0.5 (sum_d log Sigma_dd - log det Sigma); two unit dims with
    # correlation rho give -0.5 log(1 - rho^2) = 0.5108 nats at rho = 0.8.
    covariance = np.array([[1.0, 0.8, 0.0], [0.8, 1.0, 0.3], [0.0, 0.3, 2.0]])
    closed_form = 0.5 * (np.log(np.diag(covariance)).sum() - np.linalg.slogdet(covariance)[1])
    codes = np.random.RandomState(0).multivariate_normal(np.zeros(3), covariance, size=40000)
    assert metrics.gaussian_total_correlation(codes) == pytest.approx(closed_form, abs=0.01)
    two_dims = np.random.RandomState(1).multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=40000)
    assert metrics.gaussian_total_correlation(two_dims) == pytest.approx(-0.5 * np.log(1 - 0.64), abs=0.01)


def test_gaussian_total_correlation_is_infinite_for_a_redundant_dim():
    x = np.random.RandomState(0).standard_normal((100, 2))
    assert metrics.gaussian_total_correlation(np.column_stack([x, x.sum(axis=1)])) == np.inf


def test_gaussian_total_correlation_rejects_constant_dims_and_too_few_samples():
    with pytest.raises(ValueError, match="constant"):
        metrics.gaussian_total_correlation(np.column_stack([np.arange(10.0), np.ones(10)]))
    with pytest.raises(ValueError, match="more samples than dims"):
        metrics.gaussian_total_correlation(np.ones((3, 3)))


# ---------------------------------------------------------------- input checks
@pytest.mark.parametrize("metric", [metrics.mig, metrics.dci, metrics.sap])
def test_supervised_metrics_reject_bad_inputs(metric):
    factors = np.random.RandomState(0).randint(0, 2, size=(20, 2)).astype(float)
    codes = factors.copy()
    with pytest.raises(ValueError, match="same samples"):
        metric(codes[:-1], factors)
    with pytest.raises(ValueError, match="2-D"):
        metric(codes[:, 0], factors)
    with pytest.raises(ValueError, match="2-D"):
        metric(codes, factors[:, 0])
    with pytest.raises(ValueError, match="NaN"):
        metric(np.where(codes == 1, np.nan, codes), factors)
    with pytest.raises(ValueError, match="single value"):
        metric(codes, np.column_stack([factors[:, 0], np.zeros(20)]))
    with pytest.raises(ValueError, match="at least 2"):
        metric(codes[:, :1], factors)
    with pytest.raises(ValueError, match="at least .* samples"):
        metric(codes[:1], factors[:1])
