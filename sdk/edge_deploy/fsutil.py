"""Atomic file output: a reader never sees a half-written file, a failure leaves none behind.

Temporary files and folders carry their owner in their name (``<prefix><pid>-<start>-<random>``,
the process id and its start time), so one left behind by a process killed outright (SIGKILL,
which no handler sees) is recognised and removed by the next run once that process is gone:
:func:`remove_stale`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_OWNER = re.compile(r"(\d+)-(\d+)-")


def _start_time(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) sits in parentheses and may hold spaces.
    return int(stat.rpartition(")")[2].split()[19])


def owner_tag() -> str:
    """``<pid>-<start>-`` of this process, for the names of its temporary files."""
    return f"{os.getpid()}-{_start_time(os.getpid()) or 0}-"


def _owner_gone(pid: int, start: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False   # alive, someone else's
    return start != 0 and _start_time(pid) not in (None, start)   # the pid was reused


def remove_stale(folder: str | os.PathLike, prefix: str) -> list[Path]:
    """Remove the entries of ``folder`` named ``<prefix><pid>-<start>-...`` whose owner process
    has ended (an owner still running keeps its own). Returns what was removed."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in Path(folder).iterdir():
            if not entry.name.startswith(prefix):
                continue
            match = _OWNER.match(entry.name, len(prefix))
            if match is None or not _owner_gone(int(match.group(1)), int(match.group(2))):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
            removed.append(entry)
    return removed


def owned_temp_dir(prefix: str, folder: str | os.PathLike | None = None, suffix: str = "") -> Path:
    """A new temporary folder ``<prefix><owner>...`` in ``folder`` (default: the system's), after
    removing stale ones of the same prefix (see :func:`remove_stale`)."""
    folder = Path(folder or tempfile.gettempdir())
    remove_stale(folder, prefix)
    return Path(tempfile.mkdtemp(prefix=prefix + owner_tag(), suffix=suffix, dir=folder))


def _temp_file_beside(path: Path, suffix: str) -> str:
    """A new hidden temporary file beside ``path`` (stale ones of earlier runs removed first).
    An OSError names ``path``, the file the caller asked for, not the temporary name."""
    prefix = f".{path.name}."
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path.parent, prefix)
        fd, tmp = tempfile.mkstemp(prefix=prefix + owner_tag(), suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise _naming(exc, path) from exc
    os.close(fd)
    return tmp


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` again, naming ``path``."""
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename."""
    path = Path(path)
    tmp = _temp_file_beside(path, ".tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise _naming(exc, path) from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, no newline translation) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON, atomically, with a final newline."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def atomic_output_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    For writers that want a file name (``torch.save``, ``np.save``, ``savefig``).
    """
    path = Path(path)
    tmp = _temp_file_beside(path, path.suffix or ".tmp")
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _naming(exc, path) from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_output_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; on success it replaces ``path``.

    An existing ``path`` is only removed once the new content is complete.
    """
    path = Path(path)
    prefix = f".{path.name}."
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = owned_temp_dir(prefix, path.parent)
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        yield tmp
        try:
            if path.exists():
                old = owned_temp_dir(prefix, path.parent, suffix=".old")
                os.replace(path, old / "x")
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except OSError as exc:
            raise _naming(exc, path) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
