"""Data in: file loaders, bundled and synthetic datasets, preprocessing."""

from aekit.data.datasets import default_mnist_path, load_digits, load_mnist, make_linear_manifold
from aekit.data.loaded import LoadedData
from aekit.data.loading import load_data
from aekit.data.preprocessing import Preprocessing

__all__ = [
    "LoadedData",
    "Preprocessing",
    "default_mnist_path",
    "load_data",
    "load_digits",
    "load_mnist",
    "make_linear_manifold",
]
