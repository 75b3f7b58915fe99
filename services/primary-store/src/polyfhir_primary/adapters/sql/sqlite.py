"""SQLite dialect: the embedded default (a file, or memory for tests).

One writer connection (SQLite has one writer at a time) and a few reader
connections, each driven by its own thread so the event loop never blocks.
WAL journal with ``synchronous=FULL``: a commit is on disk before the write is
acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

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
from polyfhir_primary.adapters.sql.dialects.sqlite import SQLITE
from polyfhir_primary.adapters.sql.file_claim import FileClaim
from polyfhir_primary.adapters.sql.jobs import SqlJobStore
from polyfhir_primary.adapters.sql.migrations import CREATE_LEDGER, migrations_for, pending
from polyfhir_primary.adapters.sql.priority_lock import PriorityLock
from polyfhir_primary.adapters.sql.session import (
    SqlSession,
    fetch_history,
    fetch_many,
    fetch_pending_outbox,
    mark_published,
    running_session,
)
from polyfhir_primary.adapters.sql.sqlite_checkpoint import WRITER_PRAGMAS, Checkpointer
from polyfhir_primary.adapters.sql.sqlite_statistics import SqliteStatistics
from polyfhir_primary.adapters.sql.sqlite_thread import ConnectionThread
from polyfhir_primary.adapters.sql.sqlite_write_gate import WriteGate

_log = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 10.0  # a writer waits this long for another (the gate, then SQLite)

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
)


_DELETIONS = tenant_registry.sqlite_deletions()
_DUPLICATE_KEY = ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE")
# SQLite's answers to a statement beyond its compile-time limits (sqlite.org/limits.html):
# the search asked for too much, a 400 the client must not retry, never a 500.
_TOO_COMPLEX = (
    "parser stack overflow",
    "Expression tree is too large",
    "too many SQL variables",
    "at most 64 tables in a join",
    "too many terms in compound SELECT",
)


def _after(db: Callable[[], sqlite3.Connection], first: str, call: Callable[[], Any]) -> Any:
    db().execute(first)
    return call()


def _commit_read(db: sqlite3.Connection) -> None:
    try:
        db.execute("COMMIT")
    except sqlite3.Error:  # nothing to lose in a read: end it, so the next BEGIN can run
        _log.warning("COMMIT of a read transaction failed", exc_info=True)
        if db.in_transaction:
            db.execute("ROLLBACK")


def _run_statement(statement: Callable[[], Any]) -> Any:
    try:
        return statement()
    except sqlite3.OperationalError as exc:
        if str(exc).startswith(_TOO_COMPLEX):
            raise QueryTooComplex(f"the search is too complex for SQLite: {exc}") from exc
        raise


class SqliteConn:
    """A sqlite3 connection whose every call runs on its own single thread.

    A read transaction costs no thread hop of its own: its ``BEGIN`` runs in the hop
    of its first statement (:meth:`begin_with_next`) and its ``COMMIT`` is queued
    behind its last one without waiting for it (:meth:`commit_read`); the thread runs
    calls in order, so the next user of the connection finds it committed."""

    def __init__(
        self,
        target: str,
        *,
        uri: bool,
        pragmas: tuple[str, ...] = (),
        gate: WriteGate | None = None,
    ) -> None:
        self._thread = ConnectionThread("sqlite")
        self._raw: sqlite3.Connection | None = None
        self._target, self._uri = target, uri
        self._pragmas = _PRAGMAS + pragmas
        self._begin: str | None = None  # run before the next call, in its hop
        self._gate = gate  # the writer of a file: turns with other processes' writers
        self.lock = PriorityLock()

    async def _run(self, fn: Any, *args: Any) -> Any:
        call = partial(fn, *args)
        if self._begin is not None:
            call, self._begin = partial(_after, self._db, self._begin, call), None
        if self._gate is not None:
            call = partial(self._gated, self._gate, call)
        return await self._thread.call(call)

    def _gated(self, gate: WriteGate, call: Callable[[], Any]) -> Any:
        """``call`` on the writer's thread; the gate is dropped once the connection is
        out of its transaction (committed, rolled back, closed, or its BEGIN failed)."""
        try:
            return call()
        finally:
            if gate.held and not self._in_transaction():
                gate.release()

    def _in_transaction(self) -> bool:
        try:
            return self._raw is not None and self._raw.in_transaction
        except sqlite3.ProgrammingError:  # closed: nothing open any more
            return False

    async def begin_write(self) -> None:
        """``BEGIN IMMEDIATE``, after waiting for the write gate (when the connection has
        one) in the same hop: other processes' writers go first, in turn."""

        def begin() -> None:
            if self._gate is not None:
                self._gate.acquire()
            self._db().execute("BEGIN IMMEDIATE")

        await self._run(begin)

    def begin_with_next(self, sql: str) -> None:
        """``sql`` (a ``BEGIN``) runs on the thread just before the next call, in its hop."""
        self._begin = sql

    def commit_read(self) -> None:
        """End a read transaction: ``COMMIT`` queued on the thread, not waited for (a read
        has nothing to make durable); nothing when no statement ran (nor its BEGIN)."""
        if self._begin is not None:
            self._begin = None
            return
        self._thread.post(partial(_commit_read, self._db()))

    def _open(self) -> None:
        raw = sqlite3.connect(
            self._target, uri=self._uri, isolation_level=None, check_same_thread=False
        )
        for pragma in self._pragmas:
            raw.execute(pragma)
        self._raw = raw

    async def open(self) -> None:
        await self._run(self._open)

    def _db(self) -> sqlite3.Connection:
        assert self._raw is not None, "connection not open"
        return self._raw

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Sequence[Any]]:
        rows: list[Sequence[Any]] = await self._run(
            _run_statement, lambda: self._db().execute(sql, args).fetchall()
        )
        return rows

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return await self._run(lambda: self._db().execute(sql, args).rowcount)  # type: ignore[no-any-return]

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._run(lambda: self._db().executemany(sql, rows))

    async def rollback_open(self) -> None:
        """ROLLBACK when a transaction is open: after a failed or cancelled statement
        (a cancelled ``BEGIN`` still ran on the thread; a failed one opened nothing).
        Queued on the connection's one thread, it runs before any later statement."""

        self._begin = None  # not run: nothing to roll back of it

        def rollback() -> None:
            db = self._db()
            if db.in_transaction:
                db.execute("ROLLBACK")

        await asyncio.shield(self._run(rollback))

    async def write_batches(self, batches: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        def run() -> None:
            db = self._db()
            for sql, rows in batches:
                db.executemany(sql, rows)

        try:
            await self._run(run)  # one thread hop for the lot
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorname not in _DUPLICATE_KEY:
                raise
            raise TransientConflict(str(exc)) from exc  # a deferred create of an existing id

    async def script(self, sql: str) -> None:
        await self._run(lambda: self._db().executescript(sql))

    async def close(self) -> None:
        """Close the connection and end its thread; again, it does nothing more."""
        try:
            if self._raw is not None:
                await self._run(self._raw.close)
                self._raw = None
        finally:
            self._thread.stop()  # runs what is queued, then ends (a second stop returns)
            if self._gate is not None:  # nothing takes it any more: it goes with the
                self._gate.close()  # connection, even one closed mid-transaction


T = TypeVar("T")


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: str | None, readers: int = 2) -> None:
        if path in (None, "", ":memory:"):
            # One connection serves reads and writes: a private in-memory database.
            target, uri, readers = f"file:polyfhir-{uuid.uuid4().hex}?mode=memory", True, 0
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            target, uri = path, False
        # a file's writer takes turns with other processes' (a memory database has none)
        gate = None if uri else WriteGate(Path(f"{target}.write-lock"), BUSY_TIMEOUT_S)
        self._writer = SqliteConn(target, uri=uri, pragmas=() if uri else WRITER_PRAGMAS, gate=gate)
        # A file's WAL is checkpointed beside the writer (memory databases have none).
        self._checkpoints = (
            None if uri else Checkpointer(SqliteConn(target, uri=uri), self._writer.lock)
        )
        self._statistics = SqliteStatistics(self._writer)
        self._readers = [SqliteConn(target, uri=uri) for _ in range(readers)]
        self._next_reader = 0
        self._after_commit: Callable[[], None] | None = None  # wakes the outbox relay
        self._relay_claim = FileClaim(None if uri else Path(f"{target}.relay-lock"))
        self.jobs = SqlJobStore(self._job_transaction, SQLITE)

    async def open(self) -> None:
        await self._writer.open()
        if self._checkpoints is not None:
            await self._checkpoints.open()
        await self._migrate()
        await self._statistics.analyze()
        for reader in self._readers:
            await reader.open()

    async def _migrate(self) -> None:
        await self._writer.execute(CREATE_LEDGER)
        done = {row[0] for row in await self._writer.fetch("SELECT version FROM schema_migrations")}
        for m in pending(migrations_for("sqlite"), done):
            stamp = datetime.now(UTC).isoformat()
            ledger = f"INSERT INTO schema_migrations VALUES ({m.version}, '{m.name}', '{stamp}');"
            await self._writer.script(f"BEGIN IMMEDIATE;\n{m.sql}\n{ledger}\nCOMMIT;")

    def _reader(self) -> SqliteConn:
        if not self._readers:
            return self._writer
        self._next_reader = (self._next_reader + 1) % len(self._readers)
        return self._readers[self._next_reader]

    @asynccontextmanager
    async def session(self, tenant: TenantId, *, write: bool) -> AsyncIterator[SqlSession]:
        conn = self._writer if write else self._reader()
        async with conn.lock:
            try:  # BEGIN too: cancelled while awaited, it still runs on the thread
                if write:
                    await conn.begin_write()
                else:
                    conn.begin_with_next("BEGIN")  # no hop of its own (SqliteConn)
                async with running_session(conn, SQLITE, tenant) as session:
                    yield session
            except BaseException:
                await conn.rollback_open()
                raise
            if write:
                await conn.execute("COMMIT")
            else:
                conn.commit_read()
            if session.saved:
                self._statistics.wrote(session.saved)
        if write and self._checkpoints is not None:
            self._checkpoints.committed()
        if write and self._after_commit is not None:
            self._after_commit()

    def transaction(self) -> AbstractAsyncContextManager[SqliteConn]:
        """A short write transaction bound to no tenant: the control side of the
        database-per-tenant strategy (registry, position counters; adapters/sql/tenancy)."""
        return self._job_transaction(None)

    @asynccontextmanager
    async def _job_transaction(self, tenant: str | None) -> AsyncIterator[SqliteConn]:
        """A short write transaction of its own on the writer (the jobs table, the tenants
        registry; SQLite has no row-level security: ``tenant`` binds nothing, the SQL
        filters)."""
        async with self._writer.lock:
            try:
                await self._writer.begin_write()
                yield self._writer
            except BaseException:
                await self._writer.rollback_open()
                raise
            await self._writer.execute("COMMIT")

    async def history(self, tenant: TenantId, query: HistoryQuery) -> list[HistoryRow]:
        conn = self._reader()
        async with conn.lock:
            return await fetch_history(conn, SQLITE, tenant, query)

    async def read_many(
        self, tenant: TenantId, keys: Sequence[ResourceKey]
    ) -> list[StoredResource]:
        conn = self._reader()
        async with conn.lock:
            await conn.execute("BEGIN")
            try:
                return await fetch_many(conn, SQLITE, tenant, keys)
            finally:
                await conn.execute("COMMIT")

    async def outbox_backlog(self) -> int:
        conn = self._reader()
        async with conn.lock:
            return await outbox.count_backlog(conn)

    async def pending_outbox(self, limit: int) -> list[OutboxRow]:
        conn = self._reader()
        async with conn.lock:
            return await fetch_pending_outbox(conn, limit)

    async def mark_published(self, seqs: Sequence[int]) -> None:
        await self._write_outbox(lambda: mark_published(self._writer, SQLITE, seqs))

    async def prune_published(self, before: datetime, limit: int) -> int:
        return await self._write_outbox(
            lambda: outbox.prune_published(self._writer, SQLITE, before, limit)
        )

    # -- the outbox relay (polyfhir_bus.relay.OutboxSource) and freshness ------------------

    async def outbox_unpositioned(self, limit: int) -> list[OutboxRecord]:
        conn = self._reader()
        async with conn.lock:
            return await outbox.fetch_unpositioned(conn, SQLITE, limit)

    async def outbox_positioned(self, limit: int) -> list[OutboxRecord]:
        conn = self._reader()
        async with conn.lock:
            return await outbox.fetch_positioned(conn, SQLITE, limit)

    async def assign_positions(self, partitions: Mapping[int, int]) -> dict[int, int]:
        return await self._write_outbox(
            lambda: outbox.assign_positions(self._writer, SQLITE, partitions)
        )

    async def mark_dead_lettered(self, reasons: Mapping[int, str]) -> None:
        await self._write_outbox(lambda: outbox.mark_dead_lettered(self._writer, SQLITE, reasons))

    async def dead_lettered_outbox(self, limit: int) -> list[DeadLetteredRow]:
        conn = self._reader()
        async with conn.lock:
            return await outbox.list_dead_lettered(conn, SQLITE, limit)

    async def retry_dead_lettered(self, seqs: Sequence[int] | None) -> int:
        retried = await self._write_outbox(lambda: outbox.retry_dead_lettered(self._writer, seqs))
        if retried and self._after_commit is not None:
            self._after_commit()
        return retried

    async def _write_outbox(self, change: Callable[[], Awaitable[T]]) -> T:
        """One change of the relay's in its own transaction, ahead of queued writes
        (the relay's transactions are short: see priority_lock)."""
        async with self._writer.lock.urgent():
            try:
                await self._writer.begin_write()
                result = await change()
            except BaseException:
                await self._writer.rollback_open()
                raise
            await self._writer.execute("COMMIT")
            return result

    async def claim_relay(self, wake: Callable[[], None]) -> bool:
        """The holder of the file's relay lock publishes; commits wake it in-process."""
        if not await self._relay_claim.claim():
            return False
        self._after_commit = wake
        return True

    async def release_relay(self) -> None:
        self._after_commit = None
        await self._relay_claim.release()

    async def positions(self, tenant: TenantId) -> TenantPositions:
        conn = self._reader()
        async with conn.lock:
            await conn.execute("BEGIN")
            try:
                return await outbox.tenant_positions(conn, tenant)
            finally:
                await conn.execute("COMMIT")

    async def list_versions(
        self,
        tenant: TenantId,
        after: ResourceKey | None,
        limit: int,
        resource_types: Sequence[str] | None,
    ) -> list[ResourceVersion]:
        conn = self._reader()
        async with conn.lock:
            return await outbox.list_versions(conn, SQLITE, tenant, after, limit, resource_types)

    async def tenants(self) -> list[str]:
        conn = self._reader()
        async with conn.lock:
            return await outbox.tenants(conn)

    # -- the tenant lifecycle (sql/tenant_registry.py) ---------------------------------

    async def provision_tenant(self, tenant: TenantId, now: datetime) -> bool:
        async with self._job_transaction(tenant.value) as conn:
            return await tenant_registry.register(conn, SQLITE, tenant, now)

    async def tenant_records(self, under: TenantId) -> list[TenantRecord]:
        conn = self._reader()
        async with conn.lock:
            return await tenant_registry.records(conn, SQLITE, under)

    async def mark_tenant_deleting(self, tenant: TenantId) -> bool:
        async with self._job_transaction(tenant.value) as conn:
            return await tenant_registry.mark_deleting(conn, tenant)

    async def delete_tenant_data(self, tenant: TenantId, batch: int) -> dict[str, int]:
        """The one place a tenant's rows go (shared file: bounded DELETEs; a file per
        tenant would be removed instead)."""
        async with self._job_transaction(tenant.value) as conn:
            return await tenant_registry.delete_batch(conn, _DELETIONS, tenant, batch)

    async def stream_positions(self) -> TenantPositions:
        conn = self._reader()
        async with conn.lock:
            await conn.execute("BEGIN")
            try:
                return await outbox.stream_positions(conn)
            finally:
                await conn.execute("COMMIT")

    async def check(self) -> None:
        conn = self._reader()
        async with conn.lock:
            await conn.fetch("SELECT 1")

    async def close(self) -> None:
        await self.release_relay()
        await self._statistics.close()
        if self._checkpoints is not None:
            await self._checkpoints.close()
        for conn in [*self._readers, self._writer]:
            await conn.close()
