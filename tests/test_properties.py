"""Property-based tests: any array shape, dtype and value given to the public API gives either a
valid result of the right shape or a ValueError that says what to do, never a crash deep in torch."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aekit

TINY = dict(latent_dim=2, hidden=(4,), epochs=1, batch_size=8, validation_fraction=0.0, random_state=0)
DTYPES = st.sampled_from([np.uint8, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_])
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def arrays(min_dims=0, max_dims=5):
    """Arrays of any small shape and dtype: half with any values (NaN, infinity, extremes, empty
    axes), half plausible data (finite, at least two samples) so that fitting gets exercised."""

    def wild(dtype):
        elements = hnp.from_dtype(np.dtype(dtype), allow_nan=True, allow_infinity=True) if np.dtype(dtype).kind == "f" else None
        shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=5)
        return hnp.arrays(dtype, shapes, elements=elements)

    def plausible(dtype):
        kind = np.dtype(dtype).kind
        elements = (
            st.floats(0, 1, width=16 if dtype == np.float16 else 32)
            if kind == "f"
            else st.integers(0, 1) if kind == "b" else st.integers(0, 3)
        )
        shapes = hnp.array_shapes(min_dims=max(min_dims, 2), max_dims=min(max_dims, 4), min_side=2, max_side=5)
        return hnp.arrays(dtype, shapes, elements=elements)

    return DTYPES.flatmap(lambda dtype: st.one_of(wild(dtype), plausible(dtype)))


#: The errors the API documents (each message also says what to do).
DOCUMENTED = re.compile(
    "|".join(
        [
            r"contains (NaN|infinity)",
            r"got (1D|scalar) array instead",
            r"Found array with \d+ (sample|feature)\(s\)",
            r"Found array with dim \d+",
            r"expected \(n, d\) tables or \(n, h, w\)",
            r"features, but \w+ is expecting",
            r"fitted on samples of shape",
            r"Z has \d+ columns",
            r"models inputs in \[0, 1\]",
            r"loss became NaN or infinite at epoch",
            r"Complex data not supported",
            r"every sample needs at least one value",
        ]
    )
)


def _documented(error: Exception) -> bool:
    return isinstance(error, ValueError) and DOCUMENTED.search(str(error)) is not None


@PROPERTY_SETTINGS
@given(X=arrays(), estimator=st.sampled_from(["ae", "vae-gaussian", "vae-bernoulli"]))
def test_fit_gives_a_model_or_a_clear_error(X, estimator):
    est = {
        "ae": lambda: aekit.AutoEncoder(**TINY),
        "vae-gaussian": lambda: aekit.VAE(likelihood="gaussian", **TINY),
        "vae-bernoulli": lambda: aekit.VAE(**TINY),
    }[estimator]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est.fit(X)
        except ValueError as error:
            assert _documented(error), repr(error)
            event(f"rejected: {str(error)[:40]}")
            return
        event("fitted")
        codes = est.transform(X)
        recon = est.reconstruct(X)
    assert codes.shape == (X.shape[0], 2)
    assert recon.shape == X.shape


@pytest.fixture(scope="module")
def fitted(digits):
    X, _ = digits
    return aekit.AutoEncoder(**{**TINY, "hidden": (8,)}).fit(X[:64].reshape(64, -1)), aekit.AutoEncoder(
        **{**TINY, "hidden": (4,)}
    ).fit(X[:64])


@PROPERTY_SETTINGS
@given(X=arrays(max_dims=4), method=st.sampled_from(["transform", "reconstruct", "score_samples", "reconstruction_error"]))
def test_fitted_methods_give_the_right_shape_or_a_clear_error(fitted, X, method):
    for est in fitted:
        try:
            out = getattr(est, method)(X)
        except ValueError as error:
            assert _documented(error), repr(error)
            continue
        n = X.shape[0]
        expected = {
            "transform": (n, 2),
            "reconstruct": (n, *est.input_shape_),
            "score_samples": (n,),
            "reconstruction_error": (n,),
        }[method]
        assert out.shape == expected


@PROPERTY_SETTINGS
@given(Z=arrays(max_dims=3))
def test_inverse_transform_gives_the_right_shape_or_a_clear_error(fitted, Z):
    est = fitted[1]
    try:
        out = est.inverse_transform(Z)
    except ValueError as error:
        assert _documented(error), repr(error)
        return
    assert out.shape == (Z.shape[0], 8, 8)
