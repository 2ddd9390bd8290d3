"""The run folder that ``aekit train`` writes and ``encode``/``report``/... read: what it holds and how it is read."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aekit.data.preprocessing import Preprocessing
from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.export import PARTS, InputScaling
from aekit.estimators.persistence import load_estimator

MODEL_FILE = "model.safetensors"
PREPROCESSING_FILE = "preprocessing.json"
RUN_FILE = "run.json"


class RunFolderError(ValueError):
    """A run folder that is missing or lacks what ``aekit train`` writes."""


def load_run(run_dir: str | os.PathLike) -> tuple[BaseAutoEncoder, Preprocessing]:
    """The fitted model of a run folder and the input scaling it was trained with."""
    run = Path(run_dir)
    if not (run / MODEL_FILE).is_file():
        raise RunFolderError(f"{run} has no {MODEL_FILE}; pass a folder written by `aekit train ... --out DIR`.")
    preprocessing = (
        Preprocessing.load(run / PREPROCESSING_FILE) if (run / PREPROCESSING_FILE).is_file() else Preprocessing()
    )
    return load_estimator(run / MODEL_FILE), preprocessing


def input_scaling(preprocessing: Preprocessing) -> InputScaling | None:
    """The run's input scaling as the exported graphs apply it (None: inputs are used as they are)."""
    if preprocessing.kind == "unit_scale":
        return InputScaling(offset=0.0, scale=255.0, clip=(0.0, 255.0))
    if preprocessing.kind == "standardize":
        return InputScaling(offset=np.asarray(preprocessing.mean), scale=np.asarray(preprocessing.scale))
    return None


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, parts: tuple[str, ...] = PARTS) -> list[Path]:
    """Write ``<part>.onnx`` for each of ``parts`` of the run's model into ``out_dir``; returns the paths.

    The encoder and score graphs take raw rows as the run's data files hold them
    (uint8 pixels, unscaled CSV columns; a table run's numeric columns in their units),
    and the decoder returns them, because the run's scaling is inside the graphs.
    """
    estimator, preprocessing = load_run(run_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for part in parts:
        path = out / f"{part}.onnx"
        estimator.export_onnx(path, part, input_scaling(preprocessing))
        paths.append(path)
    return paths
