"""What every loader returns: the arrays read from a file, with labels and a test split when it has them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class LoadedData:
    """Arrays read from a file; the test split and labels are present when the file has them."""

    X: np.ndarray
    y: np.ndarray | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    kind: str = "array"  # "array", "images" (uint8 pixels) or "table" (CSV, Parquet)
    frame: Any = None  # tables: the pandas DataFrame as read (X is its float array when all-numeric)
    description: str = ""  # what the loader chose or changed (image folders: size, colour, resized files)
    names: list[str] | None = None  # image folders: each image's file, relative to the folder
    # Ground-truth factors of variation (n, n_factors), one row per sample, when the file has them
    # (.npz keys factors_train / factors, factors_test, factor_names): the report scores disentanglement.
    factors: np.ndarray | None = None
    factors_test: np.ndarray | None = None
    factor_names: list[str] | None = None
