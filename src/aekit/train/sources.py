"""Training data larger than memory: rows of a memory-mapped array, read one batch at a time.

In-memory data stays one float32 tensor indexed by a permutation (the trainer's fast
path).  A ``.npy`` file too large for that is wrapped in :class:`MappedArray`, and the
trainer gets a :class:`MappedSource`: it has a tensor's ``shape``, ``device``,
``[index]`` and ``narrow`` but reads only the rows of each batch (in file order),
converts them (e.g. uint8 pixels to [0, 1] floats) and hands back a float32 tensor.

Rows are read with ``os.preadv`` rather than through the memory map: pages touched
through a map count toward the process's resident memory until the kernel reclaims
them, so one epoch through a mapped 2 GB file would show as 2 GB resident.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

#: A memory-mapped input larger than this (as float32) is streamed instead of loaded.
IN_MEMORY_LIMIT_BYTES = 2**30
_CHUNK_BYTES = 16 * 2**20  # of float32 output per validation chunk


def _whole_file_map(array: np.ndarray) -> bool:
    """True for an ``np.load(..., mmap_mode="r")`` array covering its file's data (not a slice or view)."""
    try:
        return (
            isinstance(array, np.memmap)
            and bool(array.filename)
            and array.flags.c_contiguous
            and array.dtype.isnative
            and array.offset + array.nbytes == os.path.getsize(array.filename)
        )
    except (OSError, TypeError):
        return False


def should_stream(X: Any) -> bool:
    """Whether ``X`` is a memory-mapped array too large to convert to float32 in memory."""
    return isinstance(X, MappedArray) or (
        isinstance(X, np.memmap) and X.size * np.dtype(np.float32).itemsize > IN_MEMORY_LIMIT_BYTES
    )


class MappedArray:
    """A memory-mapped array whose rows are read and converted on demand.

    Parameters
    ----------
    array : numpy.memmap or array
        The stored data, e.g. ``np.load("big.npy", mmap_mode="r")``.
    transform : callable, optional
        Applied to each block of rows after reading (e.g. ``Preprocessing.apply``);
        it must map a (k, ...) array to a (k, ...) float array row by row.
    """

    def __init__(self, array: np.ndarray, transform: Callable[[np.ndarray], np.ndarray] | None = None):
        self.array = array
        self.transform = transform
        self._file = array.filename if _whole_file_map(array) else None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    def __len__(self) -> int:
        return self.array.shape[0]

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (sorted ascending), transformed, as a float32 array."""
        raw = self._read_raw(rows) if self._file is not None else np.asarray(self.array[rows])
        out = raw if self.transform is None else self.transform(raw)
        return np.asarray(out, dtype=np.float32)

    def chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, transformed block) over the whole array, about 16 MB of float32 at a time."""
        row_bytes = 4 * max(1, int(np.prod(self.array.shape[1:], dtype=np.int64)))
        step = max(1, _CHUNK_BYTES // row_bytes)
        for start in range(0, len(self), step):
            yield start, self.read(np.arange(start, min(start + step, len(self))))

    def _read_raw(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), *self.array.shape[1:]), dtype=self.array.dtype)
        row_bytes = out.itemsize * int(np.prod(out.shape[1:], dtype=np.int64))
        buffer = memoryview(out.reshape(-1).view(np.uint8))
        # One read per run of consecutive rows.
        run_starts = np.flatnonzero(np.diff(rows, prepend=-2) != 1)
        run_stops = np.append(run_starts[1:], len(rows))
        with open(self._file, "rb", buffering=0) as f:
            for first, stop in zip(run_starts.tolist(), run_stops.tolist()):
                wanted = (stop - first) * row_bytes
                got = os.preadv(
                    f.fileno(),
                    [buffer[first * row_bytes : stop * row_bytes]],
                    self.array.offset + int(rows[first]) * row_bytes,
                )
                if got != wanted:
                    raise ValueError(f"{self._file} ended early (read {got} of {wanted} bytes); is the file complete?")
        return out


class MappedSource:
    """Selected rows of a :class:`MappedArray`, indexed like a float32 tensor in model layout."""

    def __init__(
        self,
        data: MappedArray,
        model_shape: tuple[int, ...],
        device: torch.device,
        rows: np.ndarray | None = None,
    ):
        self.data = data
        self.model_shape = tuple(model_shape)
        self.device = device
        self.rows = np.arange(len(data)) if rows is None else np.asarray(rows)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.model_shape)

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, positions: np.ndarray) -> MappedSource:
        return MappedSource(self.data, self.model_shape, self.device, self.rows[positions])

    def narrow(self, dim: int, start: int, length: int) -> MappedSource:
        if dim != 0:
            raise ValueError("a MappedSource narrows along samples (dim 0) only")
        return self.subset(slice(start, start + length))

    def __getitem__(self, index: slice | torch.Tensor | np.ndarray) -> torch.Tensor:
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        rows = self.rows[index]
        # Read in file order, then put the rows back in the order asked for.
        order = np.argsort(rows, kind="stable")
        block = self.data.read(rows[order])
        if not np.all(order[:-1] < order[1:]):
            block = block[np.argsort(order, kind="stable")]
        return torch.from_numpy(block).reshape(len(rows), *self.model_shape).to(self.device)


class RowSubset:
    """Rows ``rows`` of a tensor, indexed like a tensor of just those rows, without copying them.

    ``fit`` hands the trainer its training and validation rows this way: each batch
    gathers its rows from the caller's array (which the loop does for a shuffled
    batch anyway), instead of a copy of 90% of the data living beside the original.
    Indexing gives exactly the values ``data[rows][index]`` would, so training is
    bit for bit the same.
    """

    def __init__(self, data: torch.Tensor, rows: torch.Tensor):
        self.data = data
        self.rows = rows.to(device=data.device, dtype=torch.long)

    @classmethod
    def of(cls, data: torch.Tensor, rows: np.ndarray) -> torch.Tensor | RowSubset:
        """``data`` itself when ``rows`` are all of its rows in order, else the subset."""
        if len(rows) == data.shape[0] and np.array_equal(rows, np.arange(len(rows))):
            return data
        return cls(data, torch.as_tensor(rows))

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.data.shape[1:])

    @property
    def device(self) -> torch.device:
        return self.data.device

    @property
    def dtype(self) -> torch.dtype:
        return self.data.dtype

    def __len__(self) -> int:
        return len(self.rows)

    def narrow(self, dim: int, start: int, length: int) -> RowSubset:
        if dim != 0:
            raise ValueError("a RowSubset narrows along samples (dim 0) only")
        return RowSubset(self.data, self.rows.narrow(0, start, length))

    def __getitem__(self, index: slice | torch.Tensor) -> torch.Tensor:
        return self.data[self.rows[index]]
