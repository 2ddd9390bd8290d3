"""The run folder that ``aekit train`` writes and ``encode``/``report``/... read: what it holds and how it is read."""

from __future__ import annotations

import os
from pathlib import Path

from aekit.data.preprocessing import Preprocessing
from aekit.estimators.base import BaseAutoEncoder
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
