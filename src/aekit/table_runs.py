"""``aekit train`` / ``encode`` / ``score`` / ``reconstruct`` / ``impute`` on mixed tables (CSV, Parquet).

A table whose columns are not all complete numbers (strings, booleans, gaps), or one
given ``--categorical``/``--numeric``, is trained with the table form of the model
(``ae`` -> :class:`aekit.TabularAutoEncoder`, ``vae`` -> :class:`aekit.TabularVAE`).  The
run folder then also holds ``schema.json`` (the column schema: kinds, standardization,
categories, dtypes; JSON, never pickle) and ``embeddings/<column>.csv`` (each categorical
column's learned category embeddings).  Later commands check a new file's columns against
the schema and name the missing or extra ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from aekit.data.tables import TableSchema
from aekit.estimators.tabular import TabularMixin, table_form
from aekit.runs import SCHEMA_FILE
from aekit.utils.files import atomic_write

EMBEDDINGS_DIR = "embeddings"
TABLE_OUTPUT_SUFFIXES = (".csv", ".parquet")


def wants_table_model(loaded: Any, categorical: list[str], numeric: list[str]) -> bool:
    """Whether ``aekit train`` should use a table model for this loaded data."""
    return loaded.kind == "table" and (not isinstance(loaded.X, np.ndarray) or bool(categorical or numeric))


def table_class(model: str) -> type:
    cls = table_form(model)
    if cls is None:
        raise ValueError(
            f"the table has categorical columns or gaps, which model {model!r} does not take; use `aekit train ae` "
            "or `aekit train vae` (their table forms), or pass a table of complete numbers."
        )
    return cls


def is_table_run(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / SCHEMA_FILE).is_file()


def save_table_run(estimator: TabularMixin, out: Path) -> None:
    """The schema and the category embeddings beside the model (atomic writes)."""
    estimator.schema.save(out / SCHEMA_FILE)
    for column, frame in estimator.category_embeddings_.items():
        write_frame(frame, out / EMBEDDINGS_DIR / f"{_safe_name(column)}.csv", index=True)


def _safe_name(column: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in column) or "column"


def write_frame(frame: Any, path: str | os.PathLike, index: bool = False) -> None:
    """Write a DataFrame as CSV or Parquet (by suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_OUTPUT_SUFFIXES:
        raise ValueError(f"--out {path}: a table is written as .csv or .parquet.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=index))
    else:
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=index))


def check_against_run(run_dir: str | os.PathLike, frame: Any, source: str) -> Any:
    """``frame`` in the run's column order; a ValueError naming missing and extra columns."""
    return TableSchema.load(Path(run_dir) / SCHEMA_FILE).check_columns(frame, source)


def apply_to_table(command: str, estimator: Any, frame: Any) -> Any:
    """The result of ``command`` on ``frame``: codes or scores (arrays) or a DataFrame."""
    if command == "encode":
        return estimator.transform(frame)
    if command == "score":
        return estimator.score_samples(frame)
    if command == "reconstruct":
        return estimator.reconstruct(frame)
    if command == "impute":
        return estimator.impute(frame)
    raise ValueError(f"`aekit {command}` does not apply to a table model; use encode, score, reconstruct or impute.")
