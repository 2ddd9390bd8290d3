"""Read arrays from files: .npy (memory-mapped), .npz (MNIST layout or any named array), CSV/Parquet tables.

Nothing here downloads anything: every loader takes a path.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aekit.data.images import load_image_folder
from aekit.data.loaded import LoadedData
from aekit.data.tables import TABLE_SUFFIXES, is_plain_numeric, read_table

SUPPORTED_SUFFIXES = (".npy", ".npz", *TABLE_SUFFIXES)
_NPZ_DATA_KEYS = ("x_train", "X", "x", "data", "X_train")
_NPZ_LABEL_KEYS = {"x_train": "y_train", "X_train": "y_train", "X": "y", "x": "y", "data": "target"}
# Ground-truth factors of variation beside the data (e.g. aekit.datasets.make_shapes' factors).
_NPZ_FACTOR_KEYS = {"x_train": "factors_train", "X_train": "factors_train", "X": "factors", "x": "factors",
                    "data": "factors"}  # fmt: skip


def _read_table(path: Path, drop: tuple[str, ...] = ()) -> LoadedData:
    """A CSV/Parquet table (read with pandas): ``X`` a float array when every column is a
    number with no gap, else the DataFrame itself; ``frame`` is always the DataFrame."""
    frame = read_table(path, drop=drop)
    X = frame.to_numpy(dtype=np.float64) if is_plain_numeric(frame) else frame
    return LoadedData(X=X, kind="table", frame=frame)


def _available_memory() -> int:
    """Bytes of memory available now (Linux's MemAvailable), else all physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _check_npz_sizes(path: Path, archive: np.lib.npyio.NpzFile, keys: list[str]) -> None:
    """Refuse arrays whose decompressed size (the zip's record and the .npy header's shape) exceeds
    available memory, before decompressing anything: a small .npz can claim terabytes (a zip bomb)."""
    limit = _available_memory()
    for key in keys:
        member = f"{key}.npy"
        if member not in archive.zip.namelist():
            continue
        declared = archive.zip.getinfo(member).file_size
        with archive.zip.open(member) as f:
            version = np.lib.format.read_magic(f)
            formats = np.lib.format
            read_header = formats.read_array_header_1_0 if version == (1, 0) else formats.read_array_header_2_0
            shape, _, dtype = read_header(f)
        size = max(declared, int(np.prod(shape, dtype=np.float64)) * dtype.itemsize)
        if size > limit:
            raise ValueError(
                f"{path}: array {key!r} would take {size / 2**30:.3g} GiB once decompressed, more than the "
                f"{limit / 2**30:.3g} GiB of memory available; save large data as .npy, which aekit memory-maps."
            )


def _read_npz(path: Path) -> LoadedData:
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.keys())
        data_key = next((k for k in _NPZ_DATA_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
        if data_key is None:
            raise ValueError(
                f"{path} holds arrays {keys}; name the data 'x_train' (and 'x_test', 'y_train', "
                "'y_test') or 'X' (and 'y'), or save a single array."
            )
        label_key = _NPZ_LABEL_KEYS.get(data_key)
        factor_key = _NPZ_FACTOR_KEYS.get(data_key, "")
        arrays = [data_key, label_key or "", "x_test", "X_test", "y_test", factor_key, "factors_test", "factor_names"]
        _check_npz_sizes(path, archive, arrays)
        get = lambda k: archive[k] if k in keys else None  # noqa: E731
        X = archive[data_key]
        X_test = get("x_test") if data_key == "x_train" else get("X_test")
        factor_names = get("factor_names")
        factors = _checked_factors(path, get(factor_key), X, factor_key)
        if factor_names is not None and factors is not None and np.size(factor_names) != factors.shape[1]:
            raise ValueError(
                f"{path}: 'factor_names' names {np.size(factor_names)} factors but {factor_key!r} has "
                f"{factors.shape[1]} columns; give one name per column."
            )
        return LoadedData(
            X=X,
            y=get(label_key) if label_key else None,
            X_test=X_test,
            y_test=get("y_test"),
            kind="images" if X.dtype == np.uint8 else "array",
            factors=factors,
            factors_test=_checked_factors(path, get("factors_test"), X_test, "factors_test"),
            factor_names=None if factor_names is None else [str(name) for name in np.ravel(factor_names)],
        )


def _checked_factors(path: Path, factors: np.ndarray | None, X: np.ndarray | None, key: str) -> np.ndarray | None:
    """A factors array as float64, checked to give one finite row per sample of ``X``."""
    if factors is None:
        return None
    if X is None:
        raise ValueError(f"{path} holds {key!r} but not the samples they describe; save them together.")
    if factors.ndim != 2 or len(factors) != len(X) or not np.issubdtype(factors.dtype, np.number):
        raise ValueError(
            f"{path}: {key!r} must be numbers of shape (n_samples, n_factors), one row per sample ({len(X)}); "
            f"got {factors.dtype} of shape {factors.shape}."
        )
    factors = factors.astype(np.float64)
    if not np.isfinite(factors).all():
        raise ValueError(f"{path}: {key!r} holds NaN or infinite values; factors must be finite.")
    return factors


def load_data(
    path: str | os.PathLike,
    drop: tuple[str, ...] | list[str] = (),
    size: tuple[int, int] | None = None,
    color: str | None = None,
) -> LoadedData:
    """Load a data file by its suffix (.npy is memory-mapped, never read whole), or a folder of images.

    Tables (.csv/.tsv/.txt/.parquet) are read with pandas (:func:`aekit.data.tables.read_table`),
    without the columns ``drop``.  ``size`` and ``color`` apply to image folders
    (:func:`aekit.data.images.load_image_folder`).
    """
    path = Path(path)
    if path.is_dir():
        return load_image_folder(path, size=size, color=color)
    if size is not None or color is not None:
        raise ValueError(f"{path}: --size and --color resize and convert image folders, not {path.suffix or 'files'}.")
    if not path.is_file():
        raise FileNotFoundError(
            f"No data file at {path}; check the path (supported: {', '.join(SUPPORTED_SUFFIXES)} "
            "files or a folder of images)."
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            X = np.load(path, mmap_mode="r", allow_pickle=False)
            return LoadedData(X=X, kind="images" if X.dtype == np.uint8 else "array")
        if suffix == ".npz":
            return _read_npz(path)
    except (OSError, ValueError, EOFError) as exc:
        if isinstance(exc, ValueError) and str(path) in str(exc):
            raise
        if "allow_pickle" in str(exc) or "Python objects" in str(exc):
            raise ValueError(
                f"{path} holds Python objects (pickled), which aekit never loads because unpickling can "
                "run code; save a numeric array instead (e.g. np.save(path, X.astype(np.float32)))."
            ) from None
        raise ValueError(f"{path} could not be read as {suffix} ({exc}); is the file complete?") from None
    if suffix in TABLE_SUFFIXES:
        return _read_table(path, tuple(drop))
    if drop:
        raise ValueError(f"{path}: --drop names columns, which only tables (CSV, Parquet) have.")
    raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}.")
