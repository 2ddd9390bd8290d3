"""The run folder that ``aekit train`` writes and ``encode``/``report``/... read: what it holds and how it is read.

A run folder is committed as one unit: :func:`begin_commit` removes ``run.json``,
the model and its input scaling (or table schema) are written, and :func:`commit`
writes ``run.json`` last, listing the files the folder must contain with their
sizes and SHA-256.  A process killed between those writes leaves a folder without
``run.json``, which :func:`load_run` refuses (naming what is missing) instead of
reading the model with no scaling; a file changed afterwards fails its checksum.
Folders written before the manifest (``run.json`` without ``files``) still load,
but must hold their ``preprocessing.json`` or ``schema.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from aekit.data.preprocessing import Preprocessing
from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.export import PARTS, InputScaling
from aekit.estimators.persistence import load_estimator
from aekit.utils.files import atomic_write, remove_stale_temporaries

MODEL_FILE = "model.safetensors"
PREPROCESSING_FILE = "preprocessing.json"
RUN_FILE = "run.json"
#: The file of a table run that stands for ``preprocessing.json`` (see :mod:`aekit.table_runs`).
SCHEMA_FILE = "schema.json"


class RunFolderError(ValueError):
    """A run folder that is missing or lacks what ``aekit train`` writes."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def begin_commit(run: Path, names: list[str]) -> None:
    """Mark the folder uncommitted (no ``run.json``) before its files are replaced, and clear the
    temporaries that writes of those files killed earlier left behind."""
    (run / RUN_FILE).unlink(missing_ok=True)
    for name in [*names, RUN_FILE]:
        remove_stale_temporaries(run / name)


def commit(run: Path, summary: dict[str, Any], names: list[str]) -> None:
    """Write ``run.json`` (``summary`` plus the manifest of ``names``), last, atomically."""
    files = {name: {"bytes": (run / name).stat().st_size, "sha256": _sha256(run / name)} for name in names}
    text = json.dumps({**summary, "files": files}, indent=2)
    atomic_write(run / RUN_FILE, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def read_summary(run: Path) -> dict[str, Any]:
    """``run.json`` as a dict; a RunFolderError naming the file when it is missing or malformed."""
    path = run / RUN_FILE
    if not path.is_file():
        raise RunFolderError(
            f"{run} has {MODEL_FILE} but no {RUN_FILE}: the run was interrupted while its files were written "
            "(or the folder was copied in part). Train again into it (`aekit train ... --resume` continues "
            "from its checkpoint)."
        )
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(summary, dict) or not isinstance(summary.get("files", {}), dict):
            raise ValueError("not a JSON object with a 'files' table")
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path} is damaged ({exc}); train the run again.") from None
    return summary


def _check_manifest(run: Path, summary: dict[str, Any]) -> None:
    for name, record in summary.get("files", {}).items():
        path = run / name
        if not path.is_file():
            raise RunFolderError(f"{path} is missing, but {run / RUN_FILE} lists it; train the run again.")
        try:
            same = path.stat().st_size == record["bytes"] and _sha256(path) == record["sha256"]
        except (TypeError, KeyError):
            raise RunFolderError(f"{run / RUN_FILE} has a damaged entry for {name}; train the run again.") from None
        if not same:
            raise RunFolderError(
                f"{path} is not the file this run wrote (its size or SHA-256 differs from {run / RUN_FILE}); "
                "it was changed or replaced. Train the run again, or restore the file."
            )


def _load_preprocessing(path: Path) -> Preprocessing:
    try:
        preprocessing = Preprocessing.load(path)
        if preprocessing.kind not in ("none", "unit_scale", "standardize") or (
            preprocessing.kind == "standardize"
            and not (len(preprocessing.mean) == len(preprocessing.scale) > 0)
        ):
            raise ValueError(f"unknown scaling {preprocessing.kind!r} or mismatched mean and scale")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path} is damaged ({exc}); train the run again.") from None
    return preprocessing


def load_run(run_dir: str | os.PathLike) -> tuple[BaseAutoEncoder, Preprocessing]:
    """The fitted model of a run folder and the input scaling it was trained with.

    Raises :class:`RunFolderError` naming the file when the folder is incomplete (an
    interrupted write), a file is missing, malformed or changed since the run wrote it.
    """
    run = Path(run_dir)
    if not (run / MODEL_FILE).is_file():
        raise RunFolderError(f"{run} has no {MODEL_FILE}; pass a folder written by `aekit train ... --out DIR`.")
    summary = read_summary(run)
    _check_manifest(run, summary)
    if (run / SCHEMA_FILE).is_file():
        preprocessing = Preprocessing()  # a table model scales its own columns (schema.json)
    elif (run / PREPROCESSING_FILE).is_file():
        preprocessing = _load_preprocessing(run / PREPROCESSING_FILE)
    else:
        raise RunFolderError(
            f"{run} has no {PREPROCESSING_FILE} (the input scaling the model was trained with); without it "
            "the model would see unscaled data. Train the run again."
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
