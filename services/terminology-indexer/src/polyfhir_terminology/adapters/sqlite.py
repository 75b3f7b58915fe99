"""SQLite under the terminology store (local runs, tests): the stdlib driver in threads.

Like the primary store: one writer connection (SQLite has one writer) and one
reader connection, each driven by its own thread so the event loop never
blocks; WAL, so reads go on while a large CodeSystem is written. A
transaction's statements run on the writer under a lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from polyfhir_core.errors import ServiceUnavailable
from polyfhir_terminology.adapters.database import (
    CREATE_LEDGER,
    Row,
    insert_statement,
    migrations_for,
)
from polyfhir_terminology.service_layer.ports import DefinitionRefused

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
)
T = TypeVar("T")


def _guarded(statement: Callable[[], T]) -> T:
    try:
        return statement()
    except sqlite3.OperationalError as exc:
        raise ServiceUnavailable(f"SQLite: {exc}") from exc
    except (sqlite3.IntegrityError, sqlite3.DataError) as exc:
        raise DefinitionRefused(f"SQLite refused the definition: {exc}") from exc


class SqliteConnection:
    """A sqlite3 connection whose every call runs on its own single thread."""

    def __init__(self, target: str, *, uri: bool) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="terminology-sqlite")
        self._target, self._uri = target, uri
        self._raw: sqlite3.Connection | None = None
        self.lock = asyncio.Lock()

    async def _run(self, statement: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _guarded, statement)

    def _db(self) -> sqlite3.Connection:
        if self._raw is None:
            raw = sqlite3.connect(
                self._target, uri=self._uri, isolation_level=None, check_same_thread=False
            )
            for pragma in _PRAGMAS:
                raw.execute(pragma)
            self._raw = raw
        return self._raw

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return await self._run(lambda: self._db().execute(sql, args).fetchall())

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return await self._run(lambda: self._db().execute(sql, args).rowcount)

    async def executemany(self, sql: str, rows: Sequence[Row]) -> None:
        await self._run(lambda: self._db().executemany(sql, rows))

    async def insert_rows(self, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
        if rows:
            await self.executemany(insert_statement(table, columns), rows)

    async def script(self, sql: str) -> None:
        await self._run(lambda: self._db().executescript(sql))

    async def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            await self._run(raw.close)
        self._executor.shutdown(wait=True)


class SqliteDatabase:
    engine = "sqlite"
    share_lock = ""  # one writer: nothing changes between the read and the write

    def __init__(self, path: str | None) -> None:
        if path in (None, "", ":memory:"):
            target, uri = f"file:terminology-{uuid.uuid4().hex}?mode=memory&cache=shared", True
            self._writer = SqliteConnection(target, uri=uri)
            self._reader = self._writer
        else:
            Path(str(path)).parent.mkdir(parents=True, exist_ok=True)
            self._writer = SqliteConnection(str(path), uri=False)
            self._reader = SqliteConnection(str(path), uri=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        async with self._writer.lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[SqliteConnection]:
        if self._reader is self._writer:
            async with self._writer.lock:
                yield self._writer
        else:
            yield self._reader

    async def migrate(self) -> None:
        async with self._writer.lock:
            await self._writer.execute(CREATE_LEDGER)
            rows = await self._writer.fetch("SELECT version FROM schema_migrations")
            done = {row[0] for row in rows}
            for m in migrations_for(self.engine):
                if m.version in done:
                    continue
                stamp = datetime.now(UTC).isoformat()
                ledger = (
                    f"INSERT INTO schema_migrations VALUES ({m.version}, '{m.name}', '{stamp}');"
                )
                await self._writer.script(f"BEGIN IMMEDIATE;\n{m.sql}\n{ledger}\nCOMMIT;")

    async def analyze(self, tables: tuple[str, ...]) -> None:
        """Nothing: SQLite plans these statements well without statistics, and ANALYZE
        would scan every row of the closure."""
        del tables

    async def ping(self) -> None:
        async with self.reading() as conn:
            await conn.fetch("SELECT 1")

    async def close(self) -> None:
        if self._reader is not self._writer:
            await self._reader.close()
        await self._writer.close()
