"""Files written whole or not at all: a temporary file beside the target, flushed, then renamed.

``os.replace`` is atomic on POSIX and Windows, so a reader (or a process killed
mid-write) sees the old file or the whole new one, never half of it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["open_atomic", "write_atomic"]


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open ``path`` for writing so that readers see the old file or the whole new one.

    Parameters
    ----------
    path : path
        The target; its folder is created if needed.
    mode : {"w", "wb"}, default="w"
        Text (UTF-8, newlines written as given) or bytes.

    Yields
    ------
    file object
        A temporary file next to ``path``; on leaving the block without an
        exception it is flushed to disk and renamed onto ``path``
        (``os.replace``), and the folder is flushed so that the rename itself
        survives a crash; on an exception it is removed and ``path`` is untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"The 'mode' parameter of open_atomic must be 'w' or 'wb'. "
                         f"Got {mode!r} instead.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    options = {} if mode == "wb" else {"encoding": "utf-8", "newline": ""}
    try:
        with open(temporary, mode.replace("w", "x"), **options) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk where the system allows it (POSIX; not every file
    system does: the file itself is already whole in place)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through :func:`open_atomic` and return the path."""
    if not isinstance(data, (str, bytes)):
        raise TypeError(f"The 'data' parameter of write_atomic must be str or bytes. "
                        f"Got {type(data).__name__} instead.")
    with open_atomic(path, "wb" if isinstance(data, bytes) else "w") as stream:
        stream.write(data)
    return Path(path)
