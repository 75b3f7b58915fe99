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


def open_lock_file(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def try_exclusive(fd: int) -> bool:
    """Take the exclusive ``flock`` of ``fd`` if no other holder has it (never waits)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def close_lock_file(fd: int) -> None:
    """Drop the lock if held (also for any copy of ``fd`` a fork made), close ``fd``."""
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(fd)


def _try_lock(path: Path) -> int | None:
    fd = open_lock_file(path)
    if try_exclusive(fd):
        return fd
    close_lock_file(fd)
    return None


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
            await asyncio.to_thread(close_lock_file, fd)
