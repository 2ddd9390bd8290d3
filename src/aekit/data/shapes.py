"""dSprites-style binary shape images with known factors of variation, rendered offline.

dSprites (Matthey et al. 2017) is the usual benchmark for disentanglement metrics, but
its file cannot be downloaded here, so this module re-renders images of the same kind
with numpy: one white square, ellipse or heart on black, under the same five factors and
the same factor values as dSprites (its constant colour factor is left out):

=========== ======= ==============================================
factor      values  dSprites values
=========== ======= ==============================================
shape       3       1 = square, 2 = ellipse, 3 = heart
scale       6       linearly spaced in [0.5, 1]
orientation 40      linearly spaced in [0, 2 pi], both ends included
pos_x       32      linearly spaced in [0, 1]
pos_y       32      linearly spaced in [0, 1]
=========== ======= ==============================================

The pixels are not those of dSprites (its exact outlines are not published), only the
factors are: a model's scores here are comparable across models, not with published
dSprites numbers.  Like dSprites, the values of orientation 0 and 2 pi draw the same
image, and the symmetric square and ellipse repeat within a turn.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.utils import check_random_state

SHAPES_FACTORS: tuple[str, ...] = ("shape", "scale", "orientation", "pos_x", "pos_y")
"""Names of the factor columns returned by :func:`make_shapes`, in order."""

SHAPES_SHAPE_NAMES: dict[int, str] = {1: "square", 2: "ellipse", 3: "heart"}
"""The shape factor's values (as in dSprites) and what they draw."""


def _read_only(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


SHAPES_FACTOR_VALUES: dict[str, np.ndarray] = {
    "shape": _read_only(np.array([1.0, 2.0, 3.0])),
    "scale": _read_only(np.linspace(0.5, 1.0, 6)),
    "orientation": _read_only(np.linspace(0.0, 2 * np.pi, 40)),
    "pos_x": _read_only(np.linspace(0.0, 1.0, 32)),
    "pos_y": _read_only(np.linspace(0.0, 1.0, 32)),
}
"""The possible values of each factor, the grid of dSprites."""

SHAPES_FACTOR_SIZES: tuple[int, ...] = tuple(len(SHAPES_FACTOR_VALUES[name]) for name in SHAPES_FACTORS)
"""Number of values of each factor: (3, 6, 40, 32, 32), 737280 combinations."""

# Every shape lies inside the circle of radius _MAX_RADIUS * scale (in image widths)
# around its centre, whatever its orientation, so keeping the centre _MAX_RADIUS plus
# one pixel from the edges keeps the largest shape whole, with an empty border pixel.
# 0.16 draws the largest shape about 20 pixels across at 64 pixels, as in dSprites.
_MAX_RADIUS = 0.16
_ELLIPSE_MINOR_AXIS = 0.5  # semi-minor / semi-major: an elongated ellipse, as in dSprites
_RENDER_CHUNK = 512  # images per vectorized batch: bounds the temporary (chunk, size, size) arrays
_MIN_IMAGE_SIZE = 16


def _inside_square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # Half side 1/sqrt(2): the corners touch the unit circle.
    return np.maximum(np.abs(u), np.abs(v)) <= 1 / np.sqrt(2)


def _inside_ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u**2 + (v / _ELLIPSE_MINOR_AXIS) ** 2 <= 1


# The heart is a square standing on a corner (half diagonal 1) with two discs on its
# upper edges, so it has a point at the bottom and two lobes at the top.  Its extremes
# are y = -1 (the point) and y = 1/2 + 1/sqrt(2) (the lobes' tops); its centre is put
# midway between them, and it is shrunk into the unit circle around that centre.
_HEART_LOBE_RADIUS = 1 / np.sqrt(2)
_HEART_CENTRE_Y = (0.5 + _HEART_LOBE_RADIUS - 1) / 2
# Distance from the centre to the farthest points: the bottom point or the lobes' rims.
_HEART_EXTENT = max(1 + _HEART_CENTRE_Y, np.hypot(0.5, 0.5 - _HEART_CENTRE_Y) + _HEART_LOBE_RADIUS)


def _inside_heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # From unit-circle coordinates to the square's, whose half diagonal is 1.
    x = u * _HEART_EXTENT
    y = v * _HEART_EXTENT + _HEART_CENTRE_Y
    diamond = np.abs(x) + np.abs(y) <= 1
    left_lobe = (x + 0.5) ** 2 + (y - 0.5) ** 2 <= _HEART_LOBE_RADIUS**2
    right_lobe = (x - 0.5) ** 2 + (y - 0.5) ** 2 <= _HEART_LOBE_RADIUS**2
    return diamond | left_lobe | right_lobe


_INSIDE = {1: _inside_square, 2: _inside_ellipse, 3: _inside_heart}


def _check_image_size(image_size: int) -> int:
    if not isinstance(image_size, (int, np.integer)) or image_size < _MIN_IMAGE_SIZE:
        raise ValueError(
            f"image_size must be an integer of at least {_MIN_IMAGE_SIZE} (64 is dSprites' size); "
            f"got {image_size!r}."
        )
    return int(image_size)


def _check_factors(factors: np.ndarray) -> np.ndarray:
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2 or factors.shape[1] != len(SHAPES_FACTORS):
        raise ValueError(
            f"factors must have shape (n, {len(SHAPES_FACTORS)}) with columns {SHAPES_FACTORS}; "
            f"got shape {factors.shape}."
        )
    if not np.isfinite(factors).all():
        raise ValueError("factors contain NaN or infinite values; pass finite factor values.")
    shape, scale, _, pos_x, pos_y = factors.T
    if not np.isin(shape, SHAPES_FACTOR_VALUES["shape"]).all():
        raise ValueError(
            f"the shape column must hold {sorted(SHAPES_SHAPE_NAMES.items())}; got values {np.unique(shape)}."
        )
    # Written as "any outside" so that an empty factors array passes.
    if ((scale < 0.5) | (scale > 1.0)).any():
        raise ValueError(
            f"scale must lie in [0.5, 1] (larger shapes would leave the frame); got [{scale.min()}, {scale.max()}]."
        )
    for name, column in (("pos_x", pos_x), ("pos_y", pos_y)):
        if ((column < 0.0) | (column > 1.0)).any():
            raise ValueError(f"{name} must lie in [0, 1]; got [{column.min()}, {column.max()}].")
    return factors


def render_shapes(factors: np.ndarray, image_size: int = 32) -> np.ndarray:
    """Draw one image per row of factor values.

    Parameters
    ----------
    factors : array-like of shape (n, 5)
        Columns as in :data:`SHAPES_FACTORS`: shape (1, 2 or 3), scale in [0.5, 1],
        orientation in radians, pos_x and pos_y in [0, 1].  Values between the grid
        points of :data:`SHAPES_FACTOR_VALUES` are allowed (except for shape).
    image_size : int, default=32
        Side of the square images in pixels, at least 16; 64 is dSprites' size.

    Returns
    -------
    images : ndarray of shape (n, image_size, image_size), float32
        1 where a pixel's centre lies inside the shape, else 0.  pos_x moves the shape
        right, pos_y moves it down (along the rows), and orientation turns it
        counter-clockwise as displayed.  At orientation 0 the heart points down.
    """
    factors = _check_factors(factors)
    image_size = _check_image_size(image_size)
    margin = _MAX_RADIUS + 1.0 / image_size
    pixel_centres = (np.arange(image_size) + 0.5) / image_size
    images = np.zeros((len(factors), image_size, image_size), dtype=np.float32)
    for start in range(0, len(factors), _RENDER_CHUNK):
        shape, scale, orientation, pos_x, pos_y = factors[start:start + _RENDER_CHUNK].T[:, :, None, None]
        dx = pixel_centres[None, None, :] - (margin + pos_x * (1 - 2 * margin))
        # Rows grow downwards; flip so that v points up and the heart's lobes are on top.
        dy_up = (margin + pos_y * (1 - 2 * margin)) - pixel_centres[None, :, None]
        cos, sin, radius = np.cos(orientation), np.sin(orientation), _MAX_RADIUS * scale
        u = (cos * dx + sin * dy_up) / radius
        v = (cos * dy_up - sin * dx) / radius
        chunk = images[start:start + _RENDER_CHUNK]
        for value, inside in _INSIDE.items():
            rows = shape[:, 0, 0] == value
            chunk[rows] = inside(u[rows], v[rows])
    return images


def shapes_factor_values(n_values: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """Each factor's values, all of dSprites' or an evenly spaced subset of them.

    Parameters
    ----------
    n_values : mapping of factor name to int, or None, default=None
        How many values to keep of the factors named (see :data:`SHAPES_FACTORS`);
        a factor not named keeps all its values.  ``k`` values are the ones at ``k``
        evenly spaced positions of the dSprites list, both ends included, so
        ``{"scale": 2}`` keeps 0.5 and 1; ``1`` keeps the first value only.

    Returns
    -------
    dict of str to ndarray
        In the order of :data:`SHAPES_FACTORS`, each array read-only and sorted.

    Examples
    --------
    >>> from aekit.data import shapes_factor_values
    >>> shapes_factor_values({"scale": 3})["scale"]
    array([0.5, 0.7, 1. ])
    """
    n_values = dict(n_values or {})
    unknown = sorted(set(n_values) - set(SHAPES_FACTORS))
    if unknown:
        raise ValueError(f"n_values names unknown factors {unknown}; the factors are {SHAPES_FACTORS}.")
    values = {}
    for name, all_values in SHAPES_FACTOR_VALUES.items():
        count = n_values.get(name, len(all_values))
        if not isinstance(count, (int, np.integer)) or not 1 <= count <= len(all_values):
            raise ValueError(
                f"n_values[{name!r}] must be an integer from 1 to {len(all_values)} (dSprites has "
                f"{len(all_values)} values of {name}); got {count!r}."
            )
        # Rounded evenly spaced positions are distinct because count <= len(all_values).
        kept = np.round(np.linspace(0, len(all_values) - 1, count)).astype(np.intp)
        values[name] = all_values if count == len(all_values) else _read_only(all_values[kept])
    return values


def sample_shapes_factors(
    n_samples: int,
    random_state: int | np.random.RandomState | None = None,
    n_values: Mapping[str, int] | None = None,
) -> np.ndarray:
    """Factor values drawn uniformly and independently from the dSprites grid (or a subsampled one).

    Parameters
    ----------
    n_samples : int
        Number of rows.
    random_state : int, RandomState or None, default=None
        Seed or generator; the same seed gives the same rows.
    n_values : mapping of factor name to int, or None, default=None
        Draw from fewer values of the factors named, as :func:`shapes_factor_values`
        chooses them (the values of :func:`shapes_factor_grid` with the same ``n_values``).

    Returns
    -------
    factors : ndarray of shape (n_samples, 5), float64
        Columns as in :data:`SHAPES_FACTORS`.  The signature ``(n, rng)`` is the factor
        sampler that :func:`aekit.metrics.factor_vae_score` takes; bind ``n_values``
        with :func:`functools.partial` to score a model trained on a subsampled grid.
    """
    if n_samples < 0:
        raise ValueError(f"n_samples must be non-negative; got {n_samples}.")
    values = shapes_factor_values(n_values)
    rng = check_random_state(random_state)
    columns = [column[rng.randint(len(column), size=n_samples)] for column in values.values()]
    return np.stack(columns, axis=1)


def shapes_factor_grid(
    image_size: int = 32,
    n_values: Mapping[str, int] | None = None,
    return_images: bool = True,
) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """Every combination of the factor values once, in dSprites' order, with its image.

    Metrics that fix one factor and vary the others (the FactorVAE score, and any
    measurement per factor value) need the whole grid rather than random draws.
    The rows follow dSprites' layout: the last factor (pos_y) varies fastest, so row
    ``np.ravel_multi_index(indices, sizes)`` holds the factor values at ``indices``.

    Parameters
    ----------
    image_size : int, default=32
        Side in pixels, at least 16, as in :func:`make_shapes`.
    n_values : mapping of factor name to int, or None, default=None
        Keep fewer, evenly spaced values of the factors named (see
        :func:`shapes_factor_values`).  The full grid has 737280 combinations, 3 GB of
        float32 images at 32x32, so subsample it for CPU work: ``{"orientation": 8,
        "pos_x": 8, "pos_y": 8}`` leaves 3 * 6 * 8 * 8 * 8 = 9216.
    return_images : bool, default=True
        Also render the images (else only the factor values, for rendering in parts).

    Returns
    -------
    images : ndarray of shape (n_combinations, image_size, image_size), float32
        ``render_shapes(factors, image_size)``: the images :func:`make_shapes` draws for
        the same factor values.  Only with ``return_images=True``.
    factors : ndarray of shape (n_combinations, 5), float64
        Columns as in :data:`SHAPES_FACTORS`; ``n_combinations`` is the product of the
        numbers of values kept.

    Examples
    --------
    >>> from aekit.data import shapes_factor_grid
    >>> images, factors = shapes_factor_grid(16, n_values={"orientation": 2, "pos_x": 3, "pos_y": 3})
    >>> images.shape, factors.shape
    ((324, 16, 16), (324, 5))
    """
    image_size = _check_image_size(image_size)
    values = shapes_factor_values(n_values)
    # indexing="ij" keeps the first factor slowest, the order of np.ravel_multi_index.
    mesh = np.meshgrid(*values.values(), indexing="ij")
    factors = np.stack([axis.reshape(-1) for axis in mesh], axis=1)
    if not return_images:
        return factors
    return render_shapes(factors, image_size), factors


def make_shapes(
    n_samples: int = 1000,
    image_size: int = 32,
    random_state: int | np.random.RandomState | None = None,
    return_factors: bool = True,
    n_values: Mapping[str, int] | None = None,
) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """Random dSprites-style images: one square, ellipse or heart each, with its factors.

    dSprites itself is not obtainable offline, so this re-renders images with the same
    factors and factor values (see the module docstring for the table).  Factors are
    drawn uniformly from the 737280-point grid, independently per image.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of images.
    image_size : int, default=32
        Side in pixels, at least 16; 64 is dSprites' size, 32 or 16 keep CPU work small
        (at 16 the smallest shapes cover only a few pixels).
    random_state : int, RandomState or None, default=None
        Seed or generator; the same seed gives the same images and factors.
    return_factors : bool, default=True
        Also return the factor values.
    n_values : mapping of factor name to int, or None, default=None
        Draw from fewer, evenly spaced values of the factors named (see
        :func:`shapes_factor_values`), e.g. to train on the values of a subsampled
        :func:`shapes_factor_grid`.

    Returns
    -------
    images : ndarray of shape (n_samples, image_size, image_size), float32
        Binary images, values in {0, 1}.
    factors : ndarray of shape (n_samples, 5), float64
        Factor values, columns in the order of :data:`SHAPES_FACTORS`: shape (1 square,
        2 ellipse, 3 heart), scale, orientation (radians), pos_x, pos_y.  Only with
        ``return_factors=True``.

    Examples
    --------
    >>> from aekit.data import make_shapes
    >>> images, factors = make_shapes(n_samples=4, image_size=16, random_state=0)
    >>> images.shape, factors.shape
    ((4, 16, 16), (4, 5))
    """
    image_size = _check_image_size(image_size)
    factors = sample_shapes_factors(n_samples, random_state, n_values)
    images = render_shapes(factors, image_size)
    return (images, factors) if return_factors else images
