"""Write a file atomically: readers see the old file or the whole new one, never a half-written one.

The data goes to a new temporary file beside the target (same directory, so the same
file system), is flushed to disk, and is then renamed over the target
(:func:`os.replace`, atomic on POSIX). If anything fails, the temporary file is
removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file in the same directory, then a rename).

    The file is created with mode ``0o666`` less the process umask, like :func:`open`.

    Raises:
        OSError: the directory does not exist or cannot be written (nothing is left behind).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
