"""Latent arithmetic: attribute vectors and shifts, measured on shapes whose scale and position are known."""

from __future__ import annotations

import numpy as np
import pytest

import aekit
from aekit.data import make_shapes


@pytest.fixture(scope="module")
def shapes_vae():
    X, _ = make_shapes(4000, image_size=32, random_state=0)
    return aekit.VAE(latent_dim=8, architecture="mlp", epochs=15, batch_size=64, random_state=0).fit(X)


def _area_and_centroid(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Foreground mass (sum of pixel intensities) and its centre (column, row) in pixels, per image."""
    rows, cols = np.indices(images.shape[1:])
    area = images.sum(axis=(1, 2))
    centroid = np.stack([(images * cols).sum(axis=(1, 2)), (images * rows).sum(axis=(1, 2))], axis=1) / area[:, None]
    return area, centroid


def test_the_scale_vector_grows_small_shapes_and_keeps_them_in_place(shapes_vae):
    X, factors = make_shapes(1500, image_size=32, random_state=1)
    large, small = factors[:, 1] >= 0.9, factors[:, 1] <= 0.6
    both = large | small
    vector = aekit.attribute_vector(shapes_vae, X[both], large[both])
    moved = aekit.shift(shapes_vae, X[small][:200], vector, amounts=[0.0, 1.0])
    assert moved.shape == (2, 200, 32, 32)
    (area_before, centre_before), (area_after, centre_after) = map(_area_and_centroid, moved)
    # measured: mean area 18.4 -> 22.5 pixels (x1.22), centroids move 0.41 pixels on average
    assert area_after.mean() > 1.12 * area_before.mean()
    assert np.abs(centre_after - centre_before).mean() < 1.0
    # ... and the reverse direction shrinks large shapes.
    shrunk = aekit.shift(shapes_vae, X[large][:200], vector, amounts=[0.0, -1.0])
    assert shrunk[1].sum(axis=(1, 2)).mean() < 0.97 * shrunk[0].sum(axis=(1, 2)).mean()  # measured: 42.6 -> 39.4


def test_attribute_vector_is_the_difference_of_mean_codes_and_shift_zero_reconstructs(digits):
    X, y = digits
    est = aekit.AutoEncoder(latent_dim=3, hidden=(16,), epochs=2, random_state=0).fit(X[:300])
    codes = est.transform(X[:300])
    mask = y[:300] == 3
    np.testing.assert_allclose(
        aekit.attribute_vector(est, X[:300], mask), codes[mask].mean(0) - codes[~mask].mean(0), rtol=1e-6
    )
    np.testing.assert_array_equal(aekit.attribute_vector(est, X[:300], mask.astype(int)), aekit.attribute_vector(est, X[:300], mask))
    moved = aekit.shift(est, X[:5], np.ones(3), amounts=[0.0, 2.0])
    assert moved.shape == (2, 5, 8, 8)
    np.testing.assert_allclose(moved[0], est.reconstruct(X[:5]), atol=1e-6)
    np.testing.assert_allclose(moved[1], est.inverse_transform(codes[:5] + 2.0), atol=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda est, X: aekit.attribute_vector(est, X, np.ones(len(X), bool)), r"marks 40 of 40 rows.*and rows without"),
        (lambda est, X: aekit.attribute_vector(est, X, np.zeros(len(X), bool)), r"marks 0 of 40 rows"),
        (lambda est, X: aekit.attribute_vector(est, X, np.arange(len(X))), r"mask must be booleans \(or 0/1\)"),
        (lambda est, X: aekit.attribute_vector(est, X, [True, False]), r"one value per row of X \(40\)"),
        (lambda est, X: aekit.shift(est, X, np.ones(4)), r"vector must be 3 finite numbers"),
        (lambda est, X: aekit.shift(est, X, [0, np.nan, 0]), r"vector must be 3 finite numbers"),
        (lambda est, X: aekit.shift(est, X, np.ones(3), amounts=[]), r"amounts must be a non-empty"),
    ],
    ids=["all", "none", "not-boolean", "length", "vector-size", "vector-nan", "no-amounts"],
)
def test_bad_arguments_say_what_to_pass(digits, call, message):
    X, _ = digits
    est = aekit.AutoEncoder(latent_dim=3, hidden=(16,), epochs=1, random_state=0).fit(X[:100])
    with pytest.raises(ValueError, match=message):
        call(est, X[:40])
