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
is out of its transaction: after ``COMMIT``, after a ``ROLLBACK``, after a
``BEGIN`` that failed, or when the connection closes. A writer that finds the
lock taken asks again at most 2 ms later, so it goes ahead within about a
millisecond of the other's commit instead of tens of milliseconds. The operating
system drops the lock with a process that dies, so a crashed worker never blocks
the others.

The wait is bounded like SQLite's own: after ``timeout_s`` (the connection's
``busy_timeout``) the writer goes ahead without the gate and SQLite's locking
answers, ``SQLITE_BUSY`` if the other still writes. A kernel wait without a bound
could hang for good: two connections of one process on one file (a test's two
stores, two tenancy strategies) where the holder's transaction never ends.

SQLite's own locking still decides who may write. The gate only orders the
writers, and anything that does not take it is still served by the busy handler.
"""

from __future__ import annotations

import fcntl
import time
from pathlib import Path

from polyfhir_primary.adapters.sql.file_claim import close_lock_file, open_lock_file, try_exclusive

_FIRST_PAUSE_S = 0.0002
_LONGEST_PAUSE_S = 0.002


class WriteGate:
    """The file lock one writer connection holds for each write transaction.

    Used on the connection's own thread only: ``acquire`` blocks that thread, never
    the event loop."""

    def __init__(self, path: Path, timeout_s: float) -> None:
        self._path = path
        self._timeout_s = timeout_s
        self._fd: int | None = None
        self.held = False

    def acquire(self) -> None:
        """Hold the gate once no other writer holds it; after ``timeout_s`` go ahead
        without it (``held`` stays False)."""
        if self._fd is None:
            self._fd = open_lock_file(self._path)
        deadline = time.monotonic() + self._timeout_s
        pause = _FIRST_PAUSE_S
        while not try_exclusive(self._fd):
            if time.monotonic() >= deadline:
                return
            time.sleep(pause)
            pause = min(2 * pause, _LONGEST_PAUSE_S)
        self.held = True

    def release(self) -> None:
        if self._fd is not None and self.held:
            self.held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        self.held = False
        if fd is not None:
            close_lock_file(fd)  # drops the lock, if still held
