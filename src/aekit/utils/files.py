"""Atomic file writes: a crash or a bad input never leaves a half-written file where a good one was.

Also the advisory lock that keeps one writer per run folder (:func:`folder_lock`), and
the probe that checks an output location is writable before work is paid for
(:func:`check_writable`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; run folders go unlocked there
    fcntl = None

LOCK_FILE = ".aekit.lock"
# Folders this process has locked, with how many holders: flock locks belong to an open file,
# so a second lock by this process (fit inside `aekit train`) would otherwise refuse itself.
_held: dict[Path, int] = {}


class FolderBusyError(RuntimeError):
    """Another live process holds the folder's lock."""


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``.

    The temporary file lies in a private folder ``.<name>.XXXXXXXX.tmp`` beside
    ``path``, because a writer may make temporaries of its own next to the file it
    is given (safetensors writes through a ``.tmpXXXXXX`` and renames it): a crash
    then leaves nothing but that one folder, which :func:`remove_stale_temporaries`
    recognises.  The folder's name holds the writer's PID.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The writer's PID in the name: a sweep leaves the temporaries of live writers alone.
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent))
    tmp = folder / path.name
    try:
        try:
            write(str(tmp))
        except Exception as exc:
            code = _os_error_code(exc)
            if code is None or isinstance(exc, OSError):
                raise
            # e.g. safetensors reports a full disk as "I/O error: ... (os error 28)" in its own exception type
            raise OSError(code, os.strerror(code), str(path)) from exc
        # Writers may create the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _writer_pid(temporary: Path, name: str) -> int | None:
    """The PID in a temporary's name (``.<name>.<pid>-XXXX.tmp``); None for older names."""
    middle = temporary.name[len(name) + 2 :]
    pid, sep, _ = middle.partition("-")
    return int(pid) if sep and pid.isdigit() else None


def _os_error_code(exc: BaseException) -> int | None:
    """The errno of an operating-system failure reported inside another exception's message."""
    match = re.search(r"\(os error (\d+)\)", str(exc))
    return int(match.group(1)) if match else None


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Delete what an :func:`atomic_write` to ``path`` killed mid-write left behind,
    but not the temporaries of a writer that is still running."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        pid = _writer_pid(stale, path.name)
        if pid is not None and _pid_alive(pid):
            continue
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:  # earlier builds of aekit wrote the temporary file itself there
            stale.unlink(missing_ok=True)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold an advisory lock (``flock`` on the folder itself) for one writer, re-entrant within this process.

    Raises :class:`FolderBusyError` naming the holder's PID (kept in ``.aekit.lock``
    while the lock is held) when another process holds it.  The kernel releases the
    lock when its holder exits, even when it is killed; nothing is left in the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    if fcntl is None or key in _held:
        _held.setdefault(key, 0)
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
            if _held[key] == 0:
                del _held[key]
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        try:
            holder = (folder / LOCK_FILE).read_text(encoding="utf-8").strip() or "unknown"
        except OSError:
            holder = "unknown"
        raise FolderBusyError(
            f"{folder} is in use by another aekit process (PID {holder}); wait for it to finish, stop it, "
            "or write to another folder."
        ) from None
    pid_file = folder / LOCK_FILE
    _held[key] = 1
    try:
        pid_file.write_text(str(os.getpid()), encoding="utf-8")
        yield
    finally:
        _held[key] -= 1
        if _held[key] == 0:
            del _held[key]
            pid_file.unlink(missing_ok=True)
            os.close(fd)  # closing the descriptor releases the lock


def check_writable(folder: str | os.PathLike) -> None:
    """Create ``folder`` and a probe file in it, then remove the probe: an unwritable, read-only
    or full location fails here, before any training is paid for (an OSError naming the path)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is a file, not a folder", str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".aekit-probe.{os.getpid()}"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    finally:
        probe.unlink(missing_ok=True)
