"""Writers of one SQLite file from several processes take turns on a file lock.

SQLite lets one transaction write at a time. Within a process, writes already
queue on the one writer connection. A writer in *another* process on the same
file (``POLYFHIR_WORKERS`` > 1, a CLI job beside the server) is refused with
``SQLITE_BUSY``. Its busy handler then sleeps and retries, 1, 2, 5, 10, 15,
20, 25, ... ms apart. A write transaction lasts about a millisecond, so the
waiting writer sleeps far longer than the write it waits for. With two workers
on two cores, the CRUD mix at 8 clients used under half the CPU it could, with
a p99 of 137 ms (benchmarks/README.md, session 13).

Here each writer connection takes an exclusive ``flock`` on ``<file>.write-lock``
just before its ``BEGIN IMMEDIATE``. It drops the lock as soon as the connection
is out of its transaction: after ``COMMIT``, after a ``ROLLBACK``, or after a
``BEGIN`` that failed. A writer that finds the lock taken sleeps in the kernel
and is woken when the lock is dropped. The operating system drops the lock with
a process that dies, so a crashed worker never blocks the others.

SQLite's own locking still decides who may write. The gate only orders the
writers, and anything that does not take it is still served by the busy handler.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class WriteGate:
    """The file lock one writer connection holds for each write transaction.

    Used on the connection's own thread only: ``acquire`` blocks that thread, never
    the event loop."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self.held = False

    def acquire(self) -> None:
        """Wait until no other process's writer holds the gate, then hold it."""
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.held = True

    def release(self) -> None:
        if self._fd is not None and self.held:
            self.held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        self.held = False
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # drops the lock, if still held
