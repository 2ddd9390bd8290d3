"""Tables as people have them: CSV and Parquet files read with pandas, and the column schema.

:func:`read_table` reads a CSV (any delimiter the sniffer finds, quoted fields, ``NA`` and
empty cells as missing, a header line or none) or a Parquet file into a DataFrame.

:class:`TableSchema` is what a model needs to know about a table's columns: which are
numeric (with the mean and deviation they are standardized by) and which categorical
(with their categories), and each column's original dtype, so that a model's output can
be turned back into a DataFrame with the original columns and dtypes.  It is fitted once
on training data, stored as JSON (never pickled), and checks every later table against
itself with messages naming the missing, extra or malformed columns.

The encoded layout (what the torch modules see) is one float per column: numeric columns
standardized, categorical columns as the category's index (``len(categories)`` for a
category never seen in fit), NaN for a missing cell.
"""

from __future__ import annotations

import csv
import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aekit.utils.files import atomic_write

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
NUMERIC, CATEGORICAL = "numeric", "categorical"
#: A column of words with more distinct values than this (and than half the rows) is an identifier, not a category.
MAX_CATEGORIES = 1000


class TableError(ValueError):
    """A table that cannot be read or does not match the schema a model was fitted with."""


class UnseenCategoryWarning(UserWarning):
    """A categorical column holds a value never seen in fit (it gets the "unseen" slot)."""


def _pandas():
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        raise ImportError("reading tables needs pandas: python3 -m pip install pandas pyarrow") from None
    return pd


def _sniff(path: Path) -> tuple[str, bool]:
    """(delimiter, whether the first line is a header) of a text table."""
    with open(path, encoding="utf-8", newline="") as f:
        sample = f.read(1 << 16)
    if not sample.strip():
        raise TableError(f"{path} is empty; a table needs a header line and at least one row.")
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    first = next(csv.reader([sample.splitlines()[0]], delimiter=delimiter))
    try:
        [float(v) for v in first]
        has_header = False
    except ValueError:
        has_header = True
    return delimiter, has_header


def read_table(path: str | os.PathLike, drop: list[str] | tuple[str, ...] = ()) -> Any:
    """Read a CSV/TSV or Parquet file into a pandas DataFrame, dropping the columns ``drop``.

    CSV: the delimiter (``,`` ``;`` tab ``|``) is sniffed, quoted fields may hold
    delimiters, ``NA``/``NaN``/empty cells are missing, and a first line of numbers is
    data (the columns are then named ``x0, x1, ...``).  Raises :class:`TableError` (a
    ValueError) with one line naming the file and the problem: a ragged row, a duplicate
    column name, no rows, or a column in ``drop`` that the table lacks.
    """
    pd = _pandas()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No table at {path}; check the path.")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types
            raise TableError(f"{path} could not be read as Parquet ({str(exc).splitlines()[0]}).") from None
    else:
        delimiter, has_header = _sniff(path)
        try:
            frame = pd.read_csv(
                path, sep=delimiter, header=0 if has_header else None, skipinitialspace=True, quotechar='"'
            )
        except pd.errors.ParserError as exc:
            detail = str(exc).strip().splitlines()[-1]
            raise TableError(
                f"{path}: a row has more fields than the header ({detail}); fix that row or quote its fields."
            ) from None
        except (pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise TableError(f"{path} could not be read as a table ({exc}).") from None
        if not has_header:
            frame.columns = [f"x{i}" for i in range(frame.shape[1])]
        duplicated = [c for c in frame.columns if "." in str(c) and str(c).rsplit(".", 1)[0] in frame.columns]
        if duplicated:
            raise TableError(f"{path}: duplicate column name(s) {duplicated}; give every column its own name.")
    frame.columns = [str(c) for c in frame.columns]
    if drop:
        missing = [c for c in drop if c not in frame.columns]
        if missing:
            raise TableError(f"{path} has no column(s) {missing} to drop; its columns are {list(frame.columns)}.")
        frame = frame.drop(columns=list(drop))
    if len(frame) == 0 or frame.shape[1] == 0:
        raise TableError(f"{path} has {len(frame)} rows and {frame.shape[1]} columns; a table needs both.")
    return frame


def as_frame(X: Any, names: list[str] | None = None) -> Any:
    """``X`` as a DataFrame: a DataFrame as it is, an array with columns ``names`` (or ``x0, x1, ...``)."""
    pd = _pandas()
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return X.to_frame()
    array = np.asarray(X)
    if array.ndim != 2:
        raise TableError(f"a table needs 2 dimensions (rows, columns); got an array of shape {array.shape}.")
    names = names if names is not None and len(names) == array.shape[1] else [f"x{i}" for i in range(array.shape[1])]
    return pd.DataFrame(array, columns=names)


def select_columns(frame: Any, names: list[str], source: str = "the data") -> Any:
    """``frame``'s columns ``names`` in that order (the training table's); a TableError naming the
    missing and the extra columns, so that no column is ever fed to the model in another's place."""
    found = [str(c) for c in frame.columns]
    missing = [c for c in names if c not in found]
    extra = [c for c in found if c not in names]
    if missing or extra:
        parts = [f"lacks column(s) {missing}"] if missing else []
        parts += [f"has column(s) {extra} not seen in fit"] if extra else []
        raise TableError(
            f"{source} {' and '.join(parts)}; the model was trained on columns {names}. "
            "Pass a table with exactly those columns (drop the extra ones)."
        )
    frame = frame.copy()
    frame.columns = found
    return frame[names]


def is_plain_numeric(frame: Any) -> bool:
    """Every column numeric (not boolean) with no missing cell: a plain array would do."""
    pd = _pandas()
    return all(
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in frame.columns
    ) and not frame.isna().to_numpy().any()


def _numbers_and_words(values: Any) -> tuple[int, Any]:
    """How many of the non-missing ``values`` parse as numbers, and one that does not."""
    pd = _pandas()
    parsed = pd.to_numeric(values, errors="coerce")
    words = values[parsed.isna()]
    return int(parsed.notna().sum()), (words.iloc[0] if len(words) else None)


def _plain(value: Any) -> Any:
    """A category label as a JSON value (numpy scalars to Python ones)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class ColumnSpec:
    name: str
    kind: str  # "numeric" or "categorical"
    dtype: str  # the original pandas dtype, restored on output
    mean: float = 0.0
    scale: float = 1.0
    categories: list = field(default_factory=list)

    @property
    def n_categories(self) -> int:
        return len(self.categories)


@dataclass
class TableSchema:
    """The columns of a training table: kinds, standardization, categories and dtypes (JSON-able)."""

    columns: list[ColumnSpec]

    # ------------------------------------------------------------------ fitting
    @classmethod
    def infer(cls, frame: Any, categorical: Any = None, numeric: Any = None) -> TableSchema:
        """Infer each column's kind from its dtype, with ``categorical``/``numeric`` (lists of
        names) overriding: strings, pandas categoricals and booleans are categorical; numbers
        are numeric (integers too, unless listed in ``categorical``).

        Raises :class:`TableError` naming the column for a column with no value, a column
        mixing numbers and words, and override names the table lacks.
        """
        pd = _pandas()
        frame = as_frame(frame)
        categorical, numeric = list(categorical or []), list(numeric or [])
        unknown = [c for c in categorical + numeric if c not in frame.columns]
        if unknown:
            raise TableError(f"column(s) {unknown} named as categorical/numeric are not in the table {list(frame.columns)}.")
        both = sorted(set(categorical) & set(numeric))
        if both:
            raise TableError(f"column(s) {both} are named both categorical and numeric; choose one.")
        specs = []
        for name in frame.columns:
            values = frame[name]
            observed = values.dropna()
            if len(observed) == 0:
                raise TableError(f"column {name!r} has no values (every cell is missing); drop it (--drop {name}).")
            dtype = str(values.dtype)
            is_text = not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))
            kind = CATEGORICAL if is_text or pd.api.types.is_bool_dtype(values) else NUMERIC
            if isinstance(values.dtype, pd.CategoricalDtype):
                kind = CATEGORICAL
            if name in categorical:
                kind = CATEGORICAL
            elif name in numeric:
                kind = NUMERIC
            elif kind == CATEGORICAL and is_text and not isinstance(values.dtype, pd.CategoricalDtype):
                n_numbers, word = _numbers_and_words(observed)
                if n_numbers and word is not None:
                    raise TableError(
                        f"column {name!r} mixes numbers and words ({n_numbers} of {len(observed)} values are "
                        f"numbers, but e.g. {word!r} is not); fix those cells, or declare it categorical "
                        f"(--categorical {name}) or numeric (--numeric {name}, the words then count as missing)."
                    )
                n_distinct = observed.nunique()
                if n_distinct > MAX_CATEGORIES and n_distinct > len(observed) // 2:
                    raise TableError(
                        f"column {name!r} holds {n_distinct} distinct words in {len(observed)} rows, an identifier "
                        f"rather than a category; drop it (--drop {name}) or declare it categorical (--categorical {name})."
                    )
            if kind == NUMERIC:
                numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
                if numbers.notna().sum() == 0:
                    raise TableError(f"column {name!r} was declared numeric but holds no numbers.")
                mean, scale = float(numbers.mean()), float(numbers.std(ddof=0))
                specs.append(ColumnSpec(name, NUMERIC, dtype, mean, scale if scale > 0 else 1.0))
            else:
                if isinstance(values.dtype, pd.CategoricalDtype):
                    categories = [_plain(c) for c in values.cat.categories]
                else:
                    categories = sorted({_plain(v) for v in observed}, key=lambda v: (str(type(v)), v))
                specs.append(ColumnSpec(name, CATEGORICAL, dtype, categories=categories))
        return cls(specs)

    # ------------------------------------------------------------------ properties
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def numeric_index(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.kind == NUMERIC]

    @property
    def categorical_index(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.kind == CATEGORICAL]

    @property
    def cardinalities(self) -> list[int]:
        return [c.n_categories for c in self.columns if c.kind == CATEGORICAL]

    # ------------------------------------------------------------------ checking and encoding
    def check_columns(self, frame: Any, source: str = "the data") -> Any:
        """``frame`` with the schema's columns in order; TableError naming missing and extra columns."""
        return select_columns(frame, self.names, source)

    def encode(self, frame: Any, source: str = "the data") -> np.ndarray:
        """The encoded float32 array (n, n_columns); NaN marks a missing cell.

        A category never seen in fit gets the index ``len(categories)`` and an
        :class:`UnseenCategoryWarning` naming the column; a numeric column's words
        raise :class:`TableError` naming the column and a value.
        """
        pd = _pandas()
        frame = self.check_columns(as_frame(frame, self.names), source)
        out = np.empty((len(frame), len(self.columns)), dtype=np.float32)
        for j, spec in enumerate(self.columns):
            values = frame[spec.name]
            if spec.kind == NUMERIC:
                if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
                    numbers = pd.to_numeric(values.astype("object"), errors="coerce")
                    bad = values.notna() & numbers.isna()
                    if bad.any():
                        raise TableError(
                            f"column {spec.name!r} is numeric in the model but holds {values[bad].iloc[0]!r} "
                            f"(row {values.index[bad][0]}); fix the cell or leave it empty (missing)."
                        )
                    values = numbers
                numbers = values.astype(np.float64).to_numpy()
                if np.isinf(numbers).any():
                    raise TableError(f"column {spec.name!r} holds infinity; use a finite number or leave it empty.")
                out[:, j] = (numbers - spec.mean) / spec.scale
            else:
                lookup = {_key(c): i for i, c in enumerate(spec.categories)}
                missing = values.isna().to_numpy()
                codes = np.array(
                    [np.nan if m else lookup.get(_key(_plain(v)), spec.n_categories) for v, m in zip(values, missing)],
                    dtype=np.float32,
                )
                unseen = codes == spec.n_categories
                if unseen.any():
                    examples = sorted({str(v) for v in values[unseen]})[:3]
                    warnings.warn(
                        f"column {spec.name!r} holds {int(unseen.sum())} value(s) never seen in fit (e.g. "
                        f"{', '.join(examples)}); they are encoded as an 'unseen' category.",
                        UnseenCategoryWarning,
                        stacklevel=3,
                    )
                out[:, j] = codes
        return out

    def decode(self, numeric: np.ndarray, codes: np.ndarray, index: Any = None) -> Any:
        """A DataFrame with the original columns and dtypes from standardized numeric values
        (n, n_numeric) and category indices (n, n_categorical)."""
        pd = _pandas()
        data = {}
        numeric_iter, code_iter = iter(range(numeric.shape[1])), iter(range(codes.shape[1]))
        for spec in self.columns:
            if spec.kind == NUMERIC:
                values = numeric[:, next(numeric_iter)].astype(np.float64) * spec.scale + spec.mean
                if spec.dtype.lower().startswith(("int", "uint")):
                    values = np.round(values).astype(np.int64)
                    data[spec.name] = pd.array(values, dtype=spec.dtype if spec.dtype[0] == "I" else "int64")
                else:
                    data[spec.name] = values.astype(np.float32 if spec.dtype == "float32" else np.float64)
            else:
                labels = [spec.categories[int(k)] for k in codes[:, next(code_iter)]]
                if spec.dtype == "category":
                    data[spec.name] = pd.Categorical(labels, categories=spec.categories)
                elif spec.dtype in ("bool", "boolean"):
                    data[spec.name] = pd.array([bool(v) for v in labels], dtype=spec.dtype)
                elif spec.dtype.lower().startswith(("int", "uint")):
                    data[spec.name] = pd.array(labels, dtype="int64" if spec.dtype[0] != "I" else spec.dtype)
                elif spec.dtype.startswith("float"):
                    data[spec.name] = np.asarray(labels, dtype=np.float64)
                else:
                    data[spec.name] = pd.array(labels, dtype=spec.dtype if spec.dtype.startswith("str") else "object")
        return pd.DataFrame(data, index=index)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        return {"columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict) -> TableSchema:
        try:
            return cls([ColumnSpec(**c) for c in data["columns"]])
        except (KeyError, TypeError) as exc:
            raise TableError(f"not a column schema ({exc!r})") from None

    def save(self, path: str | os.PathLike) -> None:
        text = json.dumps(self.to_dict(), indent=2)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> TableSchema:
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


def _key(value: Any) -> Any:
    """Lookup key of a category label: 2007 and 2007.0 are the same category, True is not 1."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)) and float(value).is_integer():
        return ("num", int(value))
    return (type(value).__name__, value)
