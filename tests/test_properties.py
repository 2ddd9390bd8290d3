"""Property-based tests: any array shape, dtype and value given to the public API gives either a
valid result of the right shape with finite values (scores: never NaN) or a ValueError that says
what to do, never a crash deep in torch, for every estimator the CLI offers."""

from __future__ import annotations

import functools
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aekit
from aekit.estimators import registry

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
            r"beyond float32's range",
            r"are not finite: inputs as large as",
            r"at least \d+ rows \(a batch statistic\)",
        ]
    )
)


def _documented(error: Exception) -> bool:
    return isinstance(error, ValueError) and DOCUMENTED.search(str(error)) is not None


def _tiny(cls, **params):
    """``cls`` with the TINY settings it has (a family without, e.g., ``hidden`` keeps its own)."""
    return cls(**{k: v for k, v in {**TINY, **params}.items() if k in cls._param_table})


#: Every estimator `aekit train` offers (families added later are covered too), and a Gaussian VAE.
ESTIMATORS = {
    **{name: functools.partial(_tiny, cls) for name, cls in sorted(registry.cli_models().items())},
    "vae-gaussian": functools.partial(_tiny, aekit.VAE, likelihood="gaussian"),
    # A VQ-VAE's code size is its vectors times code_dim, so latent_dim stays "auto".
    "vqvae": functools.partial(_tiny, aekit.VQVAE, latent_dim="auto", codebook_size=4, code_dim=2),
}


@PROPERTY_SETTINGS
@given(X=arrays(), estimator=st.sampled_from(sorted(ESTIMATORS)))
def test_fit_gives_a_model_or_a_clear_error(X, estimator):
    est = ESTIMATORS[estimator]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            est.fit(X)
            codes = est.transform(X)
            recon = est.reconstruct(X)
            scores = est.score_samples(X)
        except ValueError as error:
            assert _documented(error), repr(error)
            event(f"rejected: {str(error)[:40]}")
            return
        event("fitted")
    assert codes.shape == (X.shape[0], est.latent_dim_) and np.isfinite(codes).all()
    assert recon.shape == X.shape and np.isfinite(recon).all()
    assert scores.shape == (X.shape[0],) and not np.isnan(scores).any()


@pytest.fixture(scope="module")
def fitted(digits):
    X, _ = digits
    return aekit.AutoEncoder(**{**TINY, "hidden": (8,)}).fit(X[:64].reshape(64, -1)), aekit.AutoEncoder(
        **{**TINY, "hidden": (4,)}
    ).fit(X[:64])


@PROPERTY_SETTINGS
@example(X=np.full((2, 64), 1e39), method="score_samples")  # finite in float64, infinite in float32
@example(X=np.full((2, 64), 3e38, dtype=np.float32), method="reconstruct")  # overflows inside the model
@given(X=arrays(max_dims=4), method=st.sampled_from(["transform", "reconstruct", "score_samples", "reconstruction_error"]))
def test_fitted_methods_give_the_right_shape_or_a_clear_error(fitted, X, method):
    for est in fitted:
        try:
            out = getattr(est, method)(X)
        except ValueError as error:
            assert _documented(error), repr(error)
            continue
        n = X.shape[0]
        if method in ("transform", "reconstruct"):
            assert np.isfinite(out).all()
        else:
            assert not np.isnan(out).any()  # an overflowing row scores -inf (error +inf), never NaN
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
