"""One outbox relay per PostgreSQL database: a session-level advisory lock.

The claim lives on a dedicated connection (not a pooled one): holding the lock
is holding the connection. The same connection LISTENs on ``polyfhir_outbox``
(the NOTIFY trigger on the outbox), so the relay wakes right after a commit of
any process writing to the database. Processes that do not get the lock stand
by and ask again; when the holder's connection dies, PostgreSQL releases the
lock and one of them takes over.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)
RELAY_LOCK = 7_312_004_212
CHANNEL = "polyfhir_outbox"


class RelayClaim:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._wake: Callable[[], None] | None = None

    def _notified(self, *_: Any) -> None:
        if self._wake is not None:
            self._wake()

    async def claim(self, wake: Callable[[], None]) -> bool:
        if self._conn is not None and not self._conn.is_closed():
            self._wake = wake
            return True
        await self.release()
        conn = await asyncpg.connect(self._dsn)
        try:
            held = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK))
            if held:
                await conn.add_listener(CHANNEL, self._notified)
        except BaseException:
            await conn.close()
            raise
        if not held:
            await conn.close()
            return False
        log.info("outbox relay: this process publishes (advisory lock %d held)", RELAY_LOCK)
        self._conn, self._wake = conn, wake
        return True

    async def release(self) -> None:
        conn, self._conn, self._wake = self._conn, None, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(asyncpg.PostgresError, OSError):
                await conn.close()  # closing the session releases the lock
