"""scikit-learn's own estimator checks on every aekit estimator (tiny networks, few epochs)."""

from __future__ import annotations

import functools

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

import aekit

SMALL = dict(latent_dim=2, hidden=(8,), epochs=3, batch_size=32, random_state=0)

# Each estimator with the checks that fail for it, and why; strict: a check that starts to pass is a failure too.
FLOAT32_BATCHING = (
    "float32 matmuls sum in an order that depends on the batch's size, so outputs differ at "
    "~1e-7 relative, which is the check's tolerance"
)
SUBSET = {"check_methods_subset_invariance": FLOAT32_BATCHING}
ESTIMATORS = [
    (aekit.AutoEncoder(**SMALL), {}),
    (aekit.VAE(likelihood="gaussian", **SMALL), {}),
    (aekit.VAE(), SUBSET),  # every default, "auto" likelihood and code size included (6 s)
    (aekit.VAE(likelihood="gaussian", objective="iwae", n_importance_samples=3, **SMALL), SUBSET),
    (aekit.SparseAutoEncoder(**SMALL), SUBSET),
    (aekit.SparseAutoEncoder(penalty="l1", **SMALL), SUBSET),
    (aekit.DenoisingAutoEncoder(**SMALL), SUBSET),
    (aekit.ContractiveAutoEncoder(**SMALL), SUBSET),
    (aekit.StackedAutoEncoder(pretrain_epochs=2, **SMALL), SUBSET),
    (aekit.BetaTCVAE(likelihood="gaussian", **SMALL), SUBSET),
    (aekit.WassersteinAutoEncoder(**SMALL), SUBSET),
    (aekit.FactorVAE(likelihood="gaussian", discriminator_hidden=(8,), **SMALL), SUBSET),
    (aekit.DIPVAE(likelihood="gaussian", **SMALL), SUBSET),
    (aekit.DIPVAE(likelihood="gaussian", dip_type="ii", **SMALL), SUBSET),
]


# Checks that do not apply, left out rather than skipped at run time, each with the reason.
NOT_APPLICABLE = {
    "check_array_api_input": "aekit computes in torch; it converts inputs to numpy and does not "
    "declare array-API support, so there is no namespace dispatch to check",
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
