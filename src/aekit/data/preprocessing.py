"""Input scaling that the CLI fits on training data and stores beside the model.

uint8 images are scaled to [0, 1]; tables (CSV) are standardized per feature; other
float arrays are left as they are.  Stored as JSON so it can be read without code.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from aekit.utils.files import atomic_write


@dataclass
class Preprocessing:
    kind: str = "none"  # "none", "unit_scale" (uint8 / 255) or "standardize"
    mean: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, X: np.ndarray, data_kind: str) -> Preprocessing:
        if X.dtype == np.uint8:
            return cls(kind="unit_scale")
        if data_kind == "table":
            X = np.asarray(X, dtype=np.float64)
            scale = X.std(axis=0)
            scale[scale == 0] = 1.0  # constant features stay constant (0) after centering
            return cls(kind="standardize", mean=X.mean(axis=0).tolist(), scale=scale.tolist())
        return cls()

    def apply(self, X: np.ndarray) -> np.ndarray:
        if self.kind == "unit_scale":
            return np.asarray(X, dtype=np.float32) / np.float32(255)
        if self.kind == "standardize":
            X = np.asarray(X, dtype=np.float64)
            if X.shape[1:] != (len(self.mean),):
                raise ValueError(
                    f"data has {X.shape[1:]} features per row but the model was trained on {len(self.mean)}."
                )
            return ((X - self.mean) / self.scale).astype(np.float32)
        return np.asarray(X, dtype=np.float32)

    def invert(self, X: np.ndarray) -> np.ndarray:
        if self.kind == "unit_scale":  # pixels: a decoder's values beyond [0, 1] are not pixels
            return np.clip(X * 255, 0, 255)
        if self.kind == "standardize":
            return X * np.asarray(self.scale) + np.asarray(self.mean)
        return X

    def save(self, path: str | os.PathLike) -> None:
        text = json.dumps(asdict(self))
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Preprocessing:
        with open(path, encoding="utf-8") as f:
            return cls(**json.load(f))
