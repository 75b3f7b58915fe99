"""One outbox relay per SQLite file: an exclusive ``flock`` on a file beside it.

Normally one process owns a SQLite file. Should two primary-store processes be
started on the same file, only the one holding the lock publishes; the other
stands by (the relay asks again) and takes over when the holder exits — the
operating system drops the lock with the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from pathlib import Path


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


class FileClaim:
    """``claim`` is True while this object holds the lock (always True without a file)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._fd: int | None = None

    async def claim(self) -> bool:
        if self._path is None or self._fd is not None:
            return True
        self._fd = await asyncio.to_thread(_try_lock, self._path)
        return self._fd is not None

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            await asyncio.to_thread(_unlock, fd)
