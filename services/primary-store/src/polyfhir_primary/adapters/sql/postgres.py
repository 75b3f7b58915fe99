"""PostgreSQL dialect (asyncpg, pooled).

READ COMMITTED with row locks (``SELECT ... FOR UPDATE``) for optimistic
locking and gapless versions; transaction-scoped advisory locks serialise
conditional operations on the same criteria. Unique violations, serialization
failures and deadlocks become :class:`TransientConflict` (the unit of work is
retried).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from polyfhir_bus.relay import OutboxRecord
from polyfhir_core.contracts.primary_store import (
    HistoryQuery,
    ResourceVersion,
    TenantPositions,
    TenantRecord,
)
from polyfhir_core.errors import QueryTooComplex
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.database import (
    DeadLetteredRow,
    HistoryRow,
    OutboxRow,
    TransientConflict,
)
from polyfhir_primary.adapters.sql import outbox, tenant_registry
from polyfhir_primary.adapters.sql.dialect import PLAIN_INSERTS, numbered_placeholders
from polyfhir_primary.adapters.sql.dialects.postgres import POSTGRES
from polyfhir_primary.adapters.sql.index_rows import INDEX_TABLES
from polyfhir_primary.adapters.sql.jobs import SqlJobStore
from polyfhir_primary.adapters.sql.pg_insert import insert_rows
from polyfhir_primary.adapters.sql.pg_scope import system_transaction, tenant_transaction
from polyfhir_primary.adapters.sql.postgres_migrations import apply_migrations
from polyfhir_primary.adapters.sql.relay_claim import RelayClaim
from polyfhir_primary.adapters.sql.session import (
    SqlSession,
    fetch_history,
    fetch_many,
    fetch_pending_outbox,
    mark_published,
    running_session,
)
from polyfhir_primary.adapters.sql.statistics import GrowthAnalyzer
from polyfhir_primary.metrics import watch_pool

_TRANSIENT = (
    asyncpg.exceptions.UniqueViolationError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
)
_DELETIONS = tenant_registry.postgres_deletions()
_COPY_FROM_ROWS = 8  # plain inserts of at least this many rows go as one array insert
ANALYZED_TABLES = ("resources", *INDEX_TABLES, "fulltext", "terminology_closure")
# Tables whose statistics may mislead: small when last analysed (analysing them is
# cheap, and the activity counters behind n_mod_since_analyze reach pg_stat up to
# seconds late), or changed by more than 10 % since.
_STALE_TABLES = (
    "SELECT c.relname FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid"
    " WHERE c.relname = ANY($1::text[]) AND c.relnamespace = current_schema()::regnamespace"
    " AND (c.reltuples < 10000 OR s.n_mod_since_analyze > 0.1 * c.reltuples)"
    " ORDER BY c.relname"
)

log = logging.getLogger(__name__)


def _rowcount(status: str) -> int:
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


async def _keep_session(raw: asyncpg.Connection) -> None:
    """A connection back in the pool keeps its session: the store leaves no session
    state behind (no SET, LISTEN or session advisory lock outlives its use; the
    migration lock is released in ``finally``, the relay holds its own connection).
    asyncpg still rolls back an open transaction; its default reset query would
    cost one more round trip per request."""


class PgConn:
    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Sequence[Any]]:
        try:
            return list(await self.raw.fetch(numbered_placeholders(sql), *args))
        except _TRANSIENT as exc:
            raise TransientConflict(str(exc)) from exc
        except asyncpg.exceptions.ProgramLimitExceededError as exc:  # class 54: too complex
            raise QueryTooComplex(f"the search is too complex for PostgreSQL: {exc}") from exc

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        try:
            return _rowcount(await self.raw.execute(numbered_placeholders(sql), *args))
        except _TRANSIENT as exc:
            raise TransientConflict(str(exc)) from exc

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self.raw.executemany(numbered_placeholders(sql), rows)
        except _TRANSIENT as exc:
            raise TransientConflict(str(exc)) from exc

    async def write_batches(self, batches: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        for sql, rows in batches:
            target = PLAIN_INSERTS.get(sql)
            if target is None or len(rows) < _COPY_FROM_ROWS:
                await self.executemany(sql, rows)
                continue
            table, columns = target
            try:  # not COPY: COPY FROM refuses tables under row-level security
                await insert_rows(self.raw, table, columns, rows)
            except _TRANSIENT as exc:
                raise TransientConflict(str(exc)) from exc


class Statistics(GrowthAnalyzer):
    """Keeps planner statistics fresh while data grows.

    The search SQL is a tree of correlated EXISTS; on tables PostgreSQL has
    never analyzed it estimates one row everywhere and picks nested loops that
    take seconds instead of milliseconds (measured: 2.5 s -> 0.4 ms for a chain
    over 800 resources). Autovacuum gets there eventually (a minute or more
    after a bulk load), so the store also runs ANALYZE at open and in the
    background as the written data grows (``GrowthAnalyzer``), one at a time,
    of the tables that were small when last analysed or changed by more than
    10 % since: a restart on 1M analysed resources analyses nothing.
    """

    def __init__(self, pool: asyncpg.Pool, first_after: int = 100) -> None:
        super().__init__(first_after)
        self._pool = pool

    async def analyze(self) -> None:
        try:
            async with self._pool.acquire() as raw:
                stale = await raw.fetch(_STALE_TABLES, list(ANALYZED_TABLES))
                if stale:
                    await raw.execute(f"ANALYZE {', '.join(r[0] for r in stale)}")
        except (asyncpg.PostgresError, OSError) as exc:  # statistics are an optimisation
            log.warning("background ANALYZE failed: %s", exc)


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(
        self, dsn: str, min_size: int = 2, max_size: int = 10, random_page_cost: float = 1.1
    ) -> None:
        self._dsn, self._min, self._max = dsn, min_size, max_size
        self._random_page_cost = random_page_cost
        self._pool: asyncpg.Pool | None = None
        self._statistics: Statistics | None = None
        self._relay_claim = RelayClaim(dsn)
        self.jobs = SqlJobStore(self._job_transaction, POSTGRES)

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=self._min,
            max_size=self._max,
            # asyncpg prepares every statement; after five runs PostgreSQL may switch
            # to a generic plan that ignores the tenant value and assumes every tenant
            # is average-sized. With skewed tenants that plan is a nested-loop disaster
            # (measured: 4.5 s vs 5 ms), so always plan for the actual values.
            # A search answers a page: no parallel workers (their start-up costs
            # more than a page, and on a busy server the cores are taken by other
            # requests; measured at 1M resources: 77 ms with two workers, 19 ms
            # without) and no JIT (compiling pays off for analytics, not for
            # statements that run for milliseconds; costly counts would trigger it).
            # An index probe costs about the same in every index when the pages are
            # cached or on SSD; at the default random_page_cost (4) the planner
            # probed a date before a far more selective code because the code's
            # index is larger (code + date range at 1M: 15 ms, at 1.1: 6 ms).
            reset=_keep_session,
            server_settings={
                "plan_cache_mode": "force_custom_plan",
                "max_parallel_workers_per_gather": "0",
                "jit": "off",
                "random_page_cost": str(self._random_page_cost),
            },
        )
        watch_pool(self._pool)
        await self._migrate()
        self._statistics = Statistics(self._pool)
        await self._statistics.analyze()

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "database not open"
        return self._pool

    async def _migrate(self) -> None:
        async with self.pool.acquire() as raw:
            await apply_migrations(raw)

    @asynccontextmanager
    async def session(self, tenant: TenantId, *, write: bool) -> AsyncIterator[SqlSession]:
        # A read runs in a transaction too (BEGIN with the binding, then COMMIT: two
        # round trips): row-level security binds the tenant transaction-locally (pg_scope).
        async with (
            tenant_transaction(self.pool, tenant) as raw,
            running_session(PgConn(raw), POSTGRES, tenant) as session,
        ):
            yield session
        if session.saved and self._statistics is not None:
            self._statistics.wrote(session.saved)

    def transaction(self) -> AbstractAsyncContextManager[PgConn]:
        """A short write transaction in the system scope: the control side of the
        database-per-tenant strategy (registry, position counters; adapters/sql/tenancy)."""
        return self._job_transaction(None)

    @asynccontextmanager
    async def _job_transaction(self, tenant: str | None) -> AsyncIterator[PgConn]:
        """A short transaction of its own (the jobs table): bound to the job's tenant,
        or (None) the system scope of the runners' cross-tenant claim."""
        if tenant is None:
            async with system_transaction(self.pool) as raw:
                yield PgConn(raw)
        else:
            async with tenant_transaction(self.pool, TenantId(tenant)) as raw:
                yield PgConn(raw)

    @asynccontextmanager
    async def _system(self) -> AsyncIterator[PgConn]:
        """Housekeeping across tenants (relay, registry): never for a request."""
        async with system_transaction(self.pool) as raw:
            yield PgConn(raw)

    async def history(self, tenant: TenantId, query: HistoryQuery) -> list[HistoryRow]:
        async with tenant_transaction(self.pool, tenant, readonly=True) as raw:
            return await fetch_history(PgConn(raw), POSTGRES, tenant, query)

    async def read_many(
        self, tenant: TenantId, keys: Sequence[ResourceKey]
    ) -> list[StoredResource]:
        async with tenant_transaction(self.pool, tenant, readonly=True) as raw:
            return await fetch_many(PgConn(raw), POSTGRES, tenant, keys)

    async def outbox_backlog(self) -> int:
        async with self._system() as conn:
            return await outbox.count_backlog(conn)

    async def pending_outbox(self, limit: int) -> list[OutboxRow]:
        async with self._system() as conn:
            return await fetch_pending_outbox(conn, limit)

    async def mark_published(self, seqs: Sequence[int]) -> None:
        async with self._system() as conn:
            await mark_published(conn, POSTGRES, seqs)

    async def prune_published(self, before: datetime, limit: int) -> int:
        async with self._system() as conn:
            return await outbox.prune_published(conn, POSTGRES, before, limit)

    # -- the outbox relay (polyfhir_bus.relay.OutboxSource) and freshness ------------------

    async def outbox_unpositioned(self, limit: int) -> list[OutboxRecord]:
        async with self._system() as conn:
            return await outbox.fetch_unpositioned(conn, POSTGRES, limit)

    async def outbox_positioned(self, limit: int) -> list[OutboxRecord]:
        async with self._system() as conn:
            return await outbox.fetch_positioned(conn, POSTGRES, limit)

    async def assign_positions(self, partitions: Mapping[int, int]) -> dict[int, int]:
        async with self._system() as conn:
            return await outbox.assign_positions(conn, POSTGRES, partitions)

    async def mark_dead_lettered(self, reasons: Mapping[int, str]) -> None:
        async with self._system() as conn:
            await outbox.mark_dead_lettered(conn, POSTGRES, reasons)

    async def dead_lettered_outbox(self, limit: int) -> list[DeadLetteredRow]:
        async with self._system() as conn:
            return await outbox.list_dead_lettered(conn, POSTGRES, limit)

    async def retry_dead_lettered(self, seqs: Sequence[int] | None) -> int:
        async with self._system() as conn:  # the NOTIFY trigger is on INSERT
            retried = await outbox.retry_dead_lettered(conn, seqs)
            if retried:
                await conn.execute("SELECT pg_notify('polyfhir_outbox', '')")
            return retried

    async def claim_relay(self, wake: Callable[[], None]) -> bool:
        return await self._relay_claim.claim(wake)

    async def release_relay(self) -> None:
        await self._relay_claim.release()

    async def positions(self, tenant: TenantId) -> TenantPositions:
        async with tenant_transaction(self.pool, tenant, readonly=True) as raw:
            return await outbox.tenant_positions(PgConn(raw), tenant)

    async def list_versions(
        self,
        tenant: TenantId,
        after: ResourceKey | None,
        limit: int,
        resource_types: Sequence[str] | None,
    ) -> list[ResourceVersion]:
        async with tenant_transaction(self.pool, tenant, readonly=True) as raw:
            return await outbox.list_versions(
                PgConn(raw), POSTGRES, tenant, after, limit, resource_types
            )

    async def tenants(self) -> list[str]:
        async with self._system() as conn:
            return await outbox.tenants(conn)

    async def stream_positions(self) -> TenantPositions:
        async with self._system() as conn:
            return await outbox.stream_positions(conn)

    # -- the tenant lifecycle (sql/tenant_registry.py) ---------------------------------

    async def provision_tenant(self, tenant: TenantId, now: datetime) -> bool:
        async with tenant_transaction(self.pool, tenant) as raw:
            return await tenant_registry.register(PgConn(raw), POSTGRES, tenant, now)

    async def tenant_records(self, under: TenantId) -> list[TenantRecord]:
        async with self._system() as conn:  # the tenants below ``under`` too
            return await tenant_registry.records(conn, POSTGRES, under)

    async def mark_tenant_deleting(self, tenant: TenantId) -> bool:
        async with tenant_transaction(self.pool, tenant) as raw:
            return await tenant_registry.mark_deleting(PgConn(raw), tenant)

    async def delete_tenant_data(self, tenant: TenantId, batch: int) -> dict[str, int]:
        """The one place a tenant's rows go (shared schema: bounded DELETEs; a schema or
        database per tenant would drop it instead)."""
        async with tenant_transaction(self.pool, tenant) as raw:
            return await tenant_registry.delete_batch(PgConn(raw), _DELETIONS, tenant, batch)

    async def check(self) -> None:
        async with self.pool.acquire() as raw:
            await raw.fetchval("SELECT 1")

    async def close(self) -> None:
        await self._relay_claim.release()
        if self._statistics is not None:
            await self._statistics.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
