"""Atomic file writes: a crash or a bad input never leaves a half-written file where a good one was."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``.

    The temporary file lies in a private folder ``.<name>.XXXXXXXX.tmp`` beside
    ``path``, because a writer may make temporaries of its own next to the file it
    is given (safetensors writes through a ``.tmpXXXXXX`` and renames it): a crash
    then leaves nothing but that one folder, which :func:`remove_stale_temporaries`
    recognises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp = folder / path.name
    try:
        write(str(tmp))
        # Writers may create the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Delete what an :func:`atomic_write` to ``path`` killed mid-write left behind."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:  # earlier builds of aekit wrote the temporary file itself there
            stale.unlink(missing_ok=True)
