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
pass, a ``TRUNCATE`` checkpoint follows: it waits for the writer's
current transaction, copies the few pages appended meanwhile and empties the
file.

Durability is unchanged: a commit is in the WAL, fsynced, before it is
acknowledged; a checkpoint only moves it into the main file.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyfhir_primary.adapters.sql.sqlite import SqliteConn

log = logging.getLogger(__name__)

WRITER_PRAGMA = "PRAGMA wal_autocheckpoint=0"


class Checkpointer:
    def __init__(self, conn: SqliteConn, interval: float = 0.25, limit: int = 4000) -> None:
        self.conn = conn
        self._interval, self._limit = interval, limit
        self._task: asyncio.Task[None] | None = None
        self._last = 0.0

    def committed(self) -> None:
        """A write committed: checkpoint soon, unless one runs or ran just now."""
        if self._task is not None and not self._task.done():
            return
        delay = max(0.0, self._last + self._interval - time.monotonic())
        self._task = asyncio.get_running_loop().create_task(self._run(delay))

    async def _run(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            [(_, wal_pages, _)] = await self.conn.fetch("PRAGMA wal_checkpoint(PASSIVE)")
            if wal_pages > self._limit:
                await self.conn.fetch("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:  # the next one retries; the WAL only grows meanwhile
            log.warning("WAL checkpoint failed: %s", exc)
        finally:
            self._last = time.monotonic()

    async def close(self) -> None:
        if self._task is not None:
            await self._task
            self._task = None
