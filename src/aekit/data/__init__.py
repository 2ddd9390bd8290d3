"""Data in: file loaders, bundled and synthetic datasets, preprocessing."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each name is imported from its module on first use (PEP 562): the bundled datasets bring
# scikit-learn, which a command that only reads a file or an image folder does not need.
if TYPE_CHECKING:
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
        shapes_factor_grid,
        shapes_factor_values,
    )

_MODULES = {
    "datasets": ("default_mnist_path", "load_digits", "load_mnist", "make_linear_manifold"),
    "loaded": ("LoadedData",),
    "loading": ("load_data",),
    "preprocessing": ("Preprocessing",),
    "shapes": (
        "SHAPES_FACTOR_SIZES",
        "SHAPES_FACTOR_VALUES",
        "SHAPES_FACTORS",
        "SHAPES_SHAPE_NAMES",
        "make_shapes",
        "render_shapes",
        "sample_shapes_factors",
        "shapes_factor_grid",
        "shapes_factor_values",
    ),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'aekit.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"aekit.data.{_HOME[name]}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    "shapes_factor_grid",
    "shapes_factor_values",
]
