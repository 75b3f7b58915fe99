"""PostgreSQL under the terminology store (production): asyncpg, pooled.

Large row sets (concepts, closure, properties, designations of a big
CodeSystem) go as ``COPY``; migrations run under an advisory lock so replicas
starting together migrate once. A lost connection or a server that is not up
is :class:`ServiceUnavailable` (retried by the consumer, a 503 to callers);
data the server refuses (a NUL in a string, a key too large to index) is
:class:`DefinitionRefused` (dead-lettered). A unique violation can only be two
writers of the same new resource racing (codes and closure pairs are unique by
construction), so it is transient too.

The tables live in their own schema (``POLYFHIR_TERMINOLOGY_SCHEMA``, default
``terminology``, created if missing), so the store may share a database with the
primary store (whose tables have some of the same names) without touching it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from polyfhir_core.errors import ServiceUnavailable
from polyfhir_terminology.adapters.database import (
    CREATE_LEDGER,
    Row,
    migrations_for,
    numbered_placeholders,
)
from polyfhir_terminology.service_layer.ports import DefinitionRefused

_MIGRATION_LOCK = 7_312_004_216
_COPY_FROM_ROWS = 8
_UNAVAILABLE = (
    OSError,
    # two writers of one new resource at once (a consumer rebalance): retried, not refused
    asyncpg.UniqueViolationError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
)
_REFUSED = (
    asyncpg.DataError,
    asyncpg.ProgramLimitExceededError,
    asyncpg.IntegrityConstraintViolationError,
)


class PgConnection:
    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return list(await self.raw.fetch(numbered_placeholders(sql), *args))

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        status = await self.raw.execute(numbered_placeholders(sql), *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Row]) -> None:
        if rows:
            await self.raw.executemany(numbered_placeholders(sql), rows)

    async def insert_rows(self, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
        if len(rows) < _COPY_FROM_ROWS:
            marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            if rows:
                await self.raw.executemany(sql, rows)
            return
        await self.raw.copy_records_to_table(table, records=rows, columns=list(columns))


class PostgresDatabase:
    engine = "postgres"
    share_lock = " FOR SHARE"

    def __init__(
        self, dsn: str, *, schema: str = "terminology", min_size: int = 1, max_size: int = 5
    ) -> None:
        self._dsn = dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._schema = schema
        self._sizes = (min_size, max_size)
        self._pool: asyncpg.Pool | None = None

    async def _open(self) -> asyncpg.Pool:
        if self._pool is None:
            try:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=self._sizes[0],
                    max_size=self._sizes[1],
                    server_settings={"search_path": self._schema},
                )
            except _UNAVAILABLE as exc:
                raise ServiceUnavailable(f"PostgreSQL is not reachable: {exc}") from exc
        return self._pool

    @asynccontextmanager
    async def _connection(self, *, transaction: bool) -> AsyncIterator[PgConnection]:
        pool = await self._open()
        try:
            async with pool.acquire() as raw:
                if not transaction:
                    yield PgConnection(raw)
                    return
                async with raw.transaction():
                    yield PgConnection(raw)
        except _UNAVAILABLE as exc:
            raise ServiceUnavailable(f"PostgreSQL: {exc}") from exc
        except _REFUSED as exc:
            raise DefinitionRefused(f"PostgreSQL refused the definition: {exc}") from exc

    def transaction(self) -> AbstractAsyncContextManager[PgConnection]:
        return self._connection(transaction=True)

    def reading(self) -> AbstractAsyncContextManager[PgConnection]:
        return self._connection(transaction=False)

    async def migrate(self) -> None:
        async with self._connection(transaction=False) as conn:
            await conn.raw.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
            try:
                await conn.raw.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
                await conn.raw.execute(CREATE_LEDGER)
                done = {r[0] for r in await conn.raw.fetch("SELECT version FROM schema_migrations")}
                for m in migrations_for(self.engine):
                    if m.version in done:
                        continue
                    async with conn.raw.transaction():
                        await conn.raw.execute(m.sql)
                        await conn.raw.execute(
                            "INSERT INTO schema_migrations VALUES ($1, $2, $3)",
                            m.version,
                            m.name,
                            datetime.now(UTC).isoformat(),
                        )
            finally:
                await conn.raw.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)

    async def analyze(self, tables: tuple[str, ...]) -> None:
        """Sampled statistics (cheap), so lookups on a code system loaded a moment ago use
        its indexes before autovacuum gets to it."""
        async with self._connection(transaction=False) as conn:
            await conn.raw.execute(f"ANALYZE {', '.join(tables)}")

    async def ping(self) -> None:
        async with self.reading() as conn:
            await conn.fetch("SELECT 1")

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
