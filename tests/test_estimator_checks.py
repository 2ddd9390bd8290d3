"""scikit-learn's own estimator checks on every aekit estimator (tiny networks, few epochs)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import estimator_checks_generator

import aekit

SMALL = dict(latent_dim=2, hidden=(8,), epochs=3, batch_size=32, random_state=0)

# Each estimator with the checks that fail for it, and why; strict: a check that starts to pass is a failure too.
ESTIMATORS = [
    (aekit.AutoEncoder(**SMALL), {}),
    (aekit.VAE(likelihood="gaussian", **SMALL), {}),
    (aekit.VAE(), {}),  # every default, "auto" likelihood and code size included (6 s)
    (aekit.VAE(likelihood="gaussian", objective="iwae", n_importance_samples=3, **SMALL), {}),
    (aekit.SparseAutoEncoder(**SMALL), {}),
    (aekit.SparseAutoEncoder(penalty="l1", **SMALL), {}),
    (aekit.DenoisingAutoEncoder(**SMALL), {}),
    (aekit.ContractiveAutoEncoder(**SMALL), {}),
    (aekit.StackedAutoEncoder(pretrain_epochs=2, **SMALL), {}),
    (aekit.BetaTCVAE(likelihood="gaussian", **SMALL), {}),
    (aekit.WassersteinAutoEncoder(**SMALL), {}),
    (aekit.FactorVAE(likelihood="gaussian", discriminator_hidden=(8,), **SMALL), {}),
    (aekit.DIPVAE(likelihood="gaussian", **SMALL), {}),
    (aekit.DIPVAE(likelihood="gaussian", dip_type="ii", **SMALL), {}),
    (aekit.Flow(n_layers=2, hidden=(8,), epochs=3, batch_size=32, random_state=0), {}),
    (aekit.AdversarialAutoEncoder(discriminator_hidden=(8,), **SMALL), {}),
    (aekit.VAEGAN(likelihood="gaussian", discriminator_hidden=(8,), **SMALL), {}),
    (aekit.VAE(likelihood="gaussian", posterior="iaf", flow_hidden=(8,), **SMALL), {}),
    # latent_dim stays "auto": a VQ-VAE's code size is its vectors times code_dim.
    *[
        (aekit.VQVAE(codebook_size=8, code_dim=2, n_latent_vectors=2, codebook_update=update, restart_unused_after=3,
                     **{k: v for k, v in SMALL.items() if k != "latent_dim"}), {})
        for update in ("ema", "loss")
    ],
    # Gaussian visible units: the checks' data are real numbers of either sign.
    (aekit.RBM(visible="gaussian", n_components=4, epochs=3, batch_size=32, ais_betas=100, ais_chains=10, random_state=0), {}),
    (aekit.DBN(visible="gaussian", n_components=(4, 3), epochs=3, batch_size=32, random_state=0), {}),
    # Numeric arrays are tables of numeric columns to these.
    (aekit.TabularAutoEncoder(**SMALL), {}),
    (aekit.TabularVAE(**SMALL), {}),
]


# Checks that do not apply, left out rather than skipped at run time, each with the reason.
NOT_APPLICABLE = {
    "check_array_api_input": "aekit computes in torch; it converts inputs to numpy and does not "
    "declare array-API support, so there is no namespace dispatch to check",
    "check_methods_subset_invariance": "float32 matmuls sum in an order that depends on the batch's size and "
    "on the CPU's kernels, so outputs differ at ~1e-7 relative, the check's tolerance: it passes on one machine "
    "and fails on another. test_methods_are_subset_invariant_at_float32_tolerance checks the same property",
}


def _name(check) -> str:
    return (check.func if isinstance(check, functools.partial) else check).__name__


CASES = [
    pytest.param(
        estimator,
        check,
        id=f"{type(estimator).__name__}-{i}-{_name(check)}",
        marks=[pytest.mark.xfail(reason=expected[_name(check)], strict=True)] if _name(check) in expected else [],
    )
    for i, (base, expected) in enumerate(ESTIMATORS)
    for estimator, check in estimator_checks_generator(base)
    if _name(check) not in NOT_APPLICABLE
]


@pytest.mark.parametrize("estimator, check", CASES)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("base", [b for b, _ in ESTIMATORS], ids=lambda b: type(b).__name__)
def test_methods_are_subset_invariant_at_float32_tolerance(base):
    """sklearn's check_methods_subset_invariance, at a tolerance float32 arithmetic can keep."""
    X = np.random.RandomState(0).uniform(size=(40, 5)).astype(np.float64)
    estimator = clone(base).fit(X)
    for method in ("transform", "score_samples", "reconstruct"):
        whole = getattr(estimator, method)(X)
        parts = np.concatenate([getattr(estimator, method)(X[start : start + 7]) for start in range(0, 40, 7)])
        np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-6, err_msg=method)
