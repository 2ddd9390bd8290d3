"""aekit.data.shapes: the dSprites-style renderer draws what its factors say."""

from __future__ import annotations

import numpy as np
import pytest

from aekit.data import (
    SHAPES_FACTOR_SIZES,
    SHAPES_FACTOR_VALUES,
    SHAPES_FACTORS,
    SHAPES_SHAPE_NAMES,
    make_shapes,
    render_shapes,
    sample_shapes_factors,
    shapes_factor_grid,
    shapes_factor_values,
)

SQUARE, ELLIPSE, HEART = 1, 2, 3


def _one(shape: int, scale: float = 1.0, orientation: float = 0.0, pos_x: float = 0.5, pos_y: float = 0.5) -> list:
    return [shape, scale, orientation, pos_x, pos_y]


def _centroid(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(image)
    return cols.mean(), rows.mean()


def test_factor_grid_is_dsprites():
    assert SHAPES_FACTORS == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert SHAPES_FACTOR_SIZES == (3, 6, 40, 32, 32)
    assert SHAPES_SHAPE_NAMES == {1: "square", 2: "ellipse", 3: "heart"}
    np.testing.assert_allclose(SHAPES_FACTOR_VALUES["scale"], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    orientation = SHAPES_FACTOR_VALUES["orientation"]
    assert orientation[0] == 0 and orientation[-1] == pytest.approx(2 * np.pi)
    assert not SHAPES_FACTOR_VALUES["pos_x"].flags.writeable


def test_same_seed_same_images_and_factors_other_seed_others():
    images, factors = make_shapes(n_samples=50, image_size=16, random_state=3)
    again, factors_again = make_shapes(n_samples=50, image_size=16, random_state=3)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(factors, factors_again)
    assert not np.array_equal(factors, make_shapes(n_samples=50, image_size=16, random_state=4)[1])


@pytest.mark.parametrize("image_size", [16, 32, 64])
def test_shapes_dtypes_binary_values_and_grid_factors(image_size):
    images, factors = make_shapes(n_samples=40, image_size=image_size, random_state=0)
    assert images.shape == (40, image_size, image_size) and images.dtype == np.float32
    assert factors.shape == (40, 5) and factors.dtype == np.float64
    assert set(np.unique(images)) == {0.0, 1.0}
    assert (images.sum(axis=(1, 2)) > 0).all(), "every image shows a shape"
    for column, name in zip(factors.T, SHAPES_FACTORS):
        assert np.isin(column, SHAPES_FACTOR_VALUES[name]).all()
    np.testing.assert_array_equal(render_shapes(factors, image_size), images)
    only_images = make_shapes(n_samples=40, image_size=image_size, random_state=0, return_factors=False)
    np.testing.assert_array_equal(only_images, images)


def test_sampler_covers_every_value_of_every_factor():
    factors = sample_shapes_factors(3000, random_state=0)
    for column, size in zip(factors.T, SHAPES_FACTOR_SIZES):
        assert len(np.unique(column)) == size


SMALL_GRID = {"scale": 2, "orientation": 4, "pos_x": 3, "pos_y": 5}


def test_factor_grid_holds_every_combination_once_in_dsprites_order():
    images, factors = shapes_factor_grid(16, n_values=SMALL_GRID)
    values = shapes_factor_values(SMALL_GRID)
    sizes = tuple(len(v) for v in values.values())
    assert sizes == (3, 2, 4, 3, 5) and len(factors) == len(images) == np.prod(sizes)
    assert len(np.unique(factors, axis=0)) == len(factors)
    for column, kept in zip(factors.T, values.values()):
        np.testing.assert_array_equal(np.unique(column), kept)
    # dSprites' layout: the last factor varies fastest, the row of index (i, j, k, l, m) is its ravelled index.
    indices = [np.searchsorted(kept, column) for kept, column in zip(values.values(), factors.T)]
    np.testing.assert_array_equal(np.ravel_multi_index(indices, sizes), np.arange(len(factors)))
    np.testing.assert_array_equal(shapes_factor_grid(16, n_values=SMALL_GRID, return_images=False), factors)


def test_factor_grid_images_are_the_renderings_of_make_shapes():
    images, factors = shapes_factor_grid(16, n_values=SMALL_GRID)
    np.testing.assert_array_equal(images, render_shapes(factors, 16))
    # make_shapes on the same subsampled values draws grid points, and draws them the same way.
    drawn, drawn_factors = make_shapes(200, image_size=16, random_state=0, n_values=SMALL_GRID)
    rows = [np.flatnonzero((factors == row).all(axis=1))[0] for row in drawn_factors]
    np.testing.assert_array_equal(images[rows], drawn)


def test_subsampled_values_are_evenly_spaced_and_include_both_ends():
    values = shapes_factor_values({"scale": 3, "pos_x": 2, "shape": 1})
    np.testing.assert_allclose(values["scale"], [0.5, 0.7, 1.0])
    np.testing.assert_allclose(values["pos_x"], [0.0, 1.0])
    np.testing.assert_array_equal(values["shape"], [SQUARE])
    assert values["orientation"] is SHAPES_FACTOR_VALUES["orientation"] and not values["scale"].flags.writeable
    assert shapes_factor_grid(16, return_images=False).shape == (737280, 5)
    factors = sample_shapes_factors(500, random_state=0, n_values={"scale": 3})
    assert set(factors[:, 1]) == {0.5, 0.7, 1.0}


@pytest.mark.parametrize(
    "n_values, message",
    [({"colour": 2}, "unknown factors \\['colour'\\]"), ({"scale": 7}, "from 1 to 6"), ({"pos_x": 0}, "from 1 to 32"),
     ({"scale": 2.5}, "must be an integer")],
)  # fmt: skip
def test_subsampling_rejects_unknown_factors_and_impossible_counts(n_values, message):
    with pytest.raises(ValueError, match=message):
        shapes_factor_grid(16, n_values=n_values)


@pytest.mark.parametrize("shape", [SQUARE, ELLIPSE, HEART])
def test_area_grows_with_scale_as_its_square(shape):
    scales = SHAPES_FACTOR_VALUES["scale"]
    areas = render_shapes([_one(shape, scale, orientation=0.3) for scale in scales], 64).sum(axis=(1, 2))
    assert (np.diff(areas) > 0).all()
    # Area goes with scale^2: scale 1 covers about 4 times scale 0.5.
    assert areas[-1] / areas[0] == pytest.approx(4, rel=0.15)


@pytest.mark.parametrize("shape", [SQUARE, ELLIPSE, HEART])
def test_centroid_follows_pos_x_and_pos_y(shape):
    positions = SHAPES_FACTOR_VALUES["pos_x"]
    along_x = [_centroid(image) for image in render_shapes([_one(shape, pos_x=p) for p in positions], 64)]
    along_y = [_centroid(image) for image in render_shapes([_one(shape, pos_y=p) for p in positions], 64)]
    x_of_x, y_of_x = np.array(along_x).T
    x_of_y, y_of_y = np.array(along_y).T
    # pos_x moves the shape right and not down; pos_y moves it down (rows) and not right.
    assert (np.diff(x_of_x) > 0).mean() > 0.9 and x_of_x[-1] - x_of_x[0] > 30
    assert np.ptp(y_of_x) < 0.5
    assert (np.diff(y_of_y) > 0).mean() > 0.9 and y_of_y[-1] - y_of_y[0] > 30
    assert np.ptp(x_of_y) < 0.5


def test_shapes_differ_from_each_other():
    square, ellipse, heart = render_shapes([_one(s, orientation=0.5) for s in (SQUARE, ELLIPSE, HEART)], 32)
    for a, b in [(square, ellipse), (square, heart), (ellipse, heart)]:
        intersection_over_union = (a * b).sum() / np.maximum(a, b).sum()
        assert intersection_over_union < 0.8


def test_heart_has_two_lobes_on_top_and_a_point_at_the_bottom():
    (heart,) = render_shapes([_one(HEART)], 64)
    rows = np.flatnonzero(heart.any(axis=1))
    widths = heart[rows].sum(axis=1)
    # Mirror-symmetric left to right, widest in its upper half, narrowing to a point.
    assert np.abs(heart - heart[:, ::-1]).sum() <= 2
    assert np.argmax(widths) < len(rows) / 2
    assert widths[-1] <= 2 and widths.max() >= 15
    # The cleft between the lobes: the top row is two runs of pixels, not one.
    assert np.count_nonzero(np.diff(heart[rows[0]]) == 1) == 2
    # Half a turn stands it on its lobes.
    (upside_down,) = render_shapes([_one(HEART, orientation=np.pi)], 64)
    assert np.abs(upside_down - heart[::-1]).sum() <= 4


def test_orientations_zero_and_two_pi_draw_the_same_image_as_in_dsprites():
    first, last = render_shapes([_one(HEART, orientation=0.0), _one(HEART, orientation=2 * np.pi)], 32)
    np.testing.assert_array_equal(first, last)


def test_largest_shapes_stay_whole_inside_the_frame_at_every_corner():
    corners = [(x, y) for x in (0.0, 1.0) for y in (0.0, 1.0)]
    for shape in (SQUARE, ELLIPSE, HEART):
        for orientation in SHAPES_FACTOR_VALUES["orientation"][:10]:
            rows = [_one(shape, 1.0, orientation)] + [_one(shape, 1.0, orientation, x, y) for x, y in corners]
            images = render_shapes(rows, 32)
            areas = images.sum(axis=(1, 2))
            # Moving a shape only shifts its outline on the pixel grid; a cut-off shape would lose far more.
            np.testing.assert_allclose(areas[1:], areas[0], rtol=0.1)
            border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1)
            assert border.sum() == 0


def test_random_images_never_touch_the_border():
    images = make_shapes(n_samples=2000, image_size=16, random_state=1, return_factors=False)
    assert images[:, [0, -1], :].sum() == 0 and images[:, :, [0, -1]].sum() == 0


@pytest.mark.parametrize(
    "factors, message",
    [
        ([[1, 1.0, 0.0, 0.5]], "shape \\(n, 5\\)"),
        ([[4, 1.0, 0.0, 0.5, 0.5]], "shape column"),
        ([[1, 1.5, 0.0, 0.5, 0.5]], "scale must lie in"),
        ([[1, 1.0, 0.0, 1.2, 0.5]], "pos_x must lie in"),
        ([[1, 1.0, np.nan, 0.5, 0.5]], "NaN"),
    ],
)
def test_render_rejects_bad_factors(factors, message):
    with pytest.raises(ValueError, match=message):
        render_shapes(factors, 16)


def test_rejects_too_small_images():
    with pytest.raises(ValueError, match="image_size must be an integer of at least 16"):
        make_shapes(n_samples=2, image_size=8)
