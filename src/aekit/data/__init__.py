"""Data in: file loaders, bundled and synthetic datasets, preprocessing."""

from aekit.data.datasets import default_mnist_path, load_digits, load_mnist, make_linear_manifold
from aekit.data.loaded import LoadedData
from aekit.data.loading import load_data
from aekit.data.preprocessing import Preprocessing
from aekit.data.shapes import (
    SHAPES_FACTOR_SIZES,
    SHAPES_FACTOR_VALUES,
    SHAPES_FACTORS,
    SHAPES_SHAPE_NAMES,
    make_shapes,
    render_shapes,
    sample_shapes_factors,
)

__all__ = [
    "LoadedData",
    "Preprocessing",
    "SHAPES_FACTORS",
    "SHAPES_FACTOR_SIZES",
    "SHAPES_FACTOR_VALUES",
    "SHAPES_SHAPE_NAMES",
    "default_mnist_path",
    "load_data",
    "load_digits",
    "load_mnist",
    "make_linear_manifold",
    "make_shapes",
    "render_shapes",
    "sample_shapes_factors",
]
