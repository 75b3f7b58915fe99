"""WAL checkpoints off the commit path.

SQLite's automatic checkpoint runs inside the COMMIT that crosses the WAL size
limit, so one write in a few pays for copying every page written since into
the database file (measured on a bulk load: half of all commit time). Here
the writer turns automatic checkpoints off and, after commits, a connection of
its own runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own thread: it never
blocks the writer or readers and copies what no reader still needs. At most
one runs at a time and they are spaced ``interval`` apart, so under load the
WAL is copied in large batches and when quiet every commit is checkpointed
soon after.

A WAL starts again from its beginning only when a checkpoint has copied all of
it; under steady writes a passive one rarely catches the end. So when the WAL
holds more than ``limit`` pages (16 MiB of 4 KiB pages) after a passive
pass, a ``RESTART`` checkpoint follows while holding the writer's lock: the
current write transaction finishes, no new one starts until the few pages
appended meanwhile are copied, and the next write starts the WAL again from
its beginning (without the lock, a busy writer could starve it). The writer's
``journal_size_limit`` then cuts the file back to the same 16 MiB, so it is
neither regrown from nothing after every restart nor left at its largest.

Durability is unchanged: a commit is in the WAL, fsynced, before it is
acknowledged; a checkpoint only moves it into the main file.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyfhir_primary.adapters.sql.sqlite import SqliteConn

log = logging.getLogger(__name__)

LIMIT_PAGES = 4000
WRITER_PRAGMAS = ("PRAGMA wal_autocheckpoint=0", f"PRAGMA journal_size_limit={LIMIT_PAGES * 4096}")


class Checkpointer:
    def __init__(
        self,
        conn: SqliteConn,
        writer_lock: AbstractAsyncContextManager[None],
        interval: float = 0.25,
        limit: int = LIMIT_PAGES,
    ) -> None:
        self._conn = conn
        self._writer_lock = writer_lock
        self._interval, self._limit = interval, limit
        self._task: asyncio.Task[None] | None = None
        self._last = 0.0
        self._due = False  # a commit since the last checkpoint began

    def committed(self) -> None:
        """A write committed: checkpoint soon (a commit during a checkpoint gets another)."""
        self._due = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._due:
            delay = self._last + self._interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # spacing checkpoints, not waiting for a condition
            self._due = False
            try:
                [(_, wal_pages, _)] = await self._conn.fetch("PRAGMA wal_checkpoint(PASSIVE)")
                if wal_pages > self._limit:
                    async with self._writer_lock:
                        await self._conn.fetch("PRAGMA wal_checkpoint(RESTART)")
            except sqlite3.Error as exc:  # the next commit retries; the WAL only grows meanwhile
                log.warning("WAL checkpoint failed: %s", exc)
            finally:
                self._last = time.monotonic()

    async def open(self) -> None:
        await self._conn.open()

    async def close(self) -> None:
        """Finish the checkpoint under way (and any a last commit asked for), then close."""
        if self._task is not None:
            await self._task
            self._task = None
        await self._conn.close()
