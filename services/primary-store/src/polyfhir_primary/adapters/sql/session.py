"""The SQL shared by every dialect: one tenant-bound session per transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

from polyfhir_bus.events import ResourceChanged
from polyfhir_core.contracts.primary_store import HistoryQuery, SnapshotPage, SnapshotQuery
from polyfhir_core.indexing.index_values import IndexValues
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.search import IncludeSpec
from polyfhir_core.search.fulltext import content_text, narrative_text
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.database import (
    HistoryRow,
    OutboxRow,
    TransientConflict,
    VersionRecord,
)
from polyfhir_primary.adapters.sql.dialect import Conn, Dialect, plain_insert
from polyfhir_primary.adapters.sql.includes import fetch_included
from polyfhir_primary.adapters.sql.index_rows import INDEX_TABLES, index_rows, insert_sql
from polyfhir_primary.adapters.sql.pending import OWNER_WHERE, Owner, PendingWrites, Phase
from polyfhir_primary.adapters.sql.rows import decode_row
from polyfhir_primary.adapters.sql.snapshot import fetch_snapshot
from polyfhir_primary.adapters.sql.tenant_registry import REGISTER
from polyfhir_primary.adapters.sql.terminology import write_terminology
from polyfhir_primary.search.plan import SearchPlan
from polyfhir_primary.search.sql import (
    ESTIMATE_CAP,
    RESOURCE_COLUMNS,
    SearchStatements,
    Small,
    estimate_beyond_cap,
    search_statements,
)

_CURRENT = (
    f"SELECT {RESOURCE_COLUMNS} FROM resources r"
    " WHERE r.tenant = ? AND r.res_type = ? AND r.res_id = ?"
)
_VERSION = (
    f"SELECT {RESOURCE_COLUMNS} FROM resource_versions r"
    " WHERE r.tenant = ? AND r.res_type = ? AND r.res_id = ? AND r.version = ?"
)
_INSERT_CURRENT = plain_insert(
    "resources", ("tenant", "res_type", "res_id", "version", "last_updated", "deleted", "content")
)
_UPDATE_CURRENT = (
    "UPDATE resources SET version = ?, last_updated = ?, deleted = ?, content = ?"
    " WHERE tenant = ? AND res_type = ? AND res_id = ? AND version = ?"
)
_INSERT_VERSION = plain_insert(
    "resource_versions",
    ("tenant", "res_type", "res_id", "version", "last_updated", "deleted", "method", "content"),
)
_CLEAR_INDEX = {table: f"DELETE FROM {table} WHERE {OWNER_WHERE}" for table in INDEX_TABLES}
_INSERT_OUTBOX = plain_insert(
    "outbox", ("tenant", "res_type", "res_id", "version", "payload", "created_at")
)


# Resources saved before their rows start going out while the next ones are built.
STREAM_AFTER = 50


@asynccontextmanager
async def running_session(
    conn: Conn, dialect: Dialect, tenant: TenantId
) -> AsyncIterator[SqlSession]:
    """A session on ``conn`` inside a transaction its caller opened: the deferred rows go
    out at the end; on a failure the rows under way finish before the caller rolls back."""
    session = SqlSession(conn, dialect, tenant)
    try:
        yield session
        await session.flush()
    except BaseException:
        await session.abandon()
        raise


class SqlSession:
    """Implements :class:`~polyfhir_primary.adapters.database.Session` over a Conn.

    Writes are deferred (``PendingWrites``); in a long transaction (an import batch, a
    bundle) the rows of every ``STREAM_AFTER`` resources are sent while the next ones
    are validated and indexed, so the database and Python work at the same time (one
    send under way at a time, in order; anything else on the connection waits for it).
    The dialect's ``session`` calls :meth:`abandon` when the transaction fails.
    """

    def __init__(self, conn: Conn, dialect: Dialect, tenant: TenantId) -> None:
        self.conn = conn
        self.dialect = dialect
        self.tenant = tenant
        self.saved = 0  # versions written in this transaction (statistics upkeep)
        self.pending = PendingWrites()
        self.prefetched: dict[tuple[str, str], StoredResource | None] = {}
        # Rows read with ``lock`` in this transaction: no other writer can change them
        # before it ends, so their UPDATE needs no check and can wait for the flush.
        self.locked: set[tuple[str, str]] = set()
        self.registered = False  # the tenants registry row is in this transaction's writes
        self._sending: asyncio.Future[None] | None = None  # rows on their way (streamed)
        self._unsent = 0  # resources saved since the pending writes were last taken

    async def current(
        self, resource_type: str, resource_id: str, *, lock: bool = False
    ) -> StoredResource | None:
        key = (resource_type, resource_id)
        if key in self.prefetched:  # read (and locked) by prefetch_current, used once
            return self.prefetched.pop(key)
        await self.flush()
        sql = _CURRENT + (self.dialect.for_update if lock else "")
        rows = await self.conn.fetch(sql, (self.tenant.value, resource_type, resource_id))
        if rows and lock:
            self.locked.add(key)
        return decode_row(self.tenant, rows[0], self.dialect) if rows else None

    async def prefetch_current(self, keys: Sequence[ResourceKey]) -> None:
        """Read and lock the current rows of ``keys`` in one statement per type and 500
        ids, for the entries of one transaction about to write them (an import batch:
        no round trip per entry). Each is handed out once by :meth:`current`."""
        await self.flush()
        by_type: dict[str, list[str]] = {}
        for key in keys:
            by_type.setdefault(key.resource_type, []).append(key.id)
        for rtype, ids in by_type.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                sql = (
                    f"SELECT {RESOURCE_COLUMNS} FROM resources r WHERE r.tenant = ?"
                    f" AND r.res_type = ? AND r.res_id IN ({marks}) ORDER BY r.res_id"
                ) + self.dialect.for_update
                rows = await self.conn.fetch(sql, [self.tenant.value, rtype, *chunk])
                found = {row[1]: decode_row(self.tenant, row, self.dialect) for row in rows}
                for rid in chunk:
                    self.prefetched[(rtype, rid)] = found.get(rid)
                self.locked.update((rtype, rid) for rid in found)

    async def version(
        self, resource_type: str, resource_id: str, version: int
    ) -> StoredResource | None:
        await self.flush()
        args = (self.tenant.value, resource_type, resource_id, version)
        rows = await self.conn.fetch(_VERSION, args)
        return decode_row(self.tenant, rows[0], self.dialect) if rows else None

    async def save(self, record: VersionRecord, previous: int | None) -> None:
        self.saved += 1
        s, d = record.stored, self.dialect
        owner = (self.tenant.value, s.resource_type, s.id)
        if self.pending.holds(owner):
            await self.flush()
        await self._stream()
        content = orjson.dumps(s.content) if s.content is not None else None
        ts, deleted = d.ts(s.last_updated), d.flag(s.deleted)
        if not self.registered:  # the first write registers the tenant (tenant_registry.py)
            self.registered = True
            self.pending.add((self.tenant.value, "", ""), Phase.WRITE, REGISTER, [(owner[0], ts)])
        if previous is None:
            # Deferred too: a concurrent create of the same id fails the flush with a
            # unique violation, which is the same TransientConflict (and retry).
            current_row = (*owner, s.version, ts, deleted, content)
            self.pending.add(owner, Phase.WRITE, _INSERT_CURRENT, [current_row])
        else:
            args = (s.version, ts, deleted, content, *owner, previous)
            if (s.resource_type, s.id) in self.locked:  # cannot have changed: batched
                self.pending.add(owner, Phase.WRITE, _UPDATE_CURRENT, [args])
            else:
                await self._settle()
                if await self.conn.execute(_UPDATE_CURRENT, args) != 1:
                    raise TransientConflict(f"{s.resource_type}/{s.id} changed concurrently")
        version_row = (*owner, s.version, ts, deleted, record.method, content)
        self.pending.add(owner, Phase.WRITE, _INSERT_VERSION, [version_row])
        self._write_index(owner, record.index, clear=previous is not None)
        if s.resource_type in ("CodeSystem", "ValueSet"):
            await self._settle()
            await write_terminology(self.conn, d, owner, s.content)
        if s.content is not None:
            docs = d.document_writes(
                owner, narrative_text(s.content), content_text(s.content), previous=previous
            )
        else:  # a delete: the documents of the earlier version go
            docs = d.document_writes(owner, None, None, previous=previous)
        for phase, sql, row in docs:
            self.pending.add(owner, phase, sql, [row])
        await self.enqueue(record.event)

    def _write_index(self, owner: Owner, values: IndexValues | None, *, clear: bool) -> None:
        if clear:
            for table in INDEX_TABLES:
                self.pending.add(owner, Phase.CLEAR, _CLEAR_INDEX[table], [owner])
        if values is not None:
            for table, rows in index_rows(values, owner, self.dialect):
                self.pending.add(owner, Phase.WRITE, insert_sql(table), rows)

    async def flush(self) -> None:
        """Send the deferred writes (before reading what they touch, and before commit)."""
        await self._settle()
        batches = self.pending.take()
        self._unsent = 0
        if batches:
            await self.conn.write_batches(batches)

    async def _stream(self) -> None:
        """Once ``STREAM_AFTER`` resources wait, start sending their rows (after the
        send before them); then let the send under way progress."""
        self._unsent += 1
        if self._unsent > STREAM_AFTER:
            await self._settle()
            batches, self._unsent = self.pending.take(), 1
            if batches:
                self._sending = asyncio.ensure_future(self.conn.write_batches(batches))
        if self._sending is not None:
            await asyncio.sleep(0)  # one turn of the loop: the send reads its answer

    async def _settle(self) -> None:
        """Wait for the rows under way (a conflict they met is raised here)."""
        sending, self._sending = self._sending, None
        if sending is not None:
            await sending

    async def abandon(self) -> None:
        """The transaction failed: let the rows under way finish (their error does not
        matter any more) before it rolls back on the same connection."""
        sending, self._sending = self._sending, None
        if sending is not None:
            await asyncio.gather(sending, return_exceptions=True)

    async def enqueue(self, event: ResourceChanged) -> None:
        """Add ``event`` to the outbox in this transaction (published after the commit)."""
        owner = (self.tenant.value, event.resource_type, event.resource_id)
        now = self.dialect.ts(datetime.now(UTC))
        row = (*owner, event.version, event.to_json(), now)
        self.pending.add(owner, Phase.OUTBOX, _INSERT_OUTBOX, [row])

    async def replace_index(self, stored: StoredResource, values: IndexValues) -> None:
        owner = (self.tenant.value, stored.resource_type, stored.id)
        if self.pending.holds(owner):
            await self.flush()
        self._write_index(owner, values, clear=True)

    def _current_filter(self, resource_types: Sequence[str] | None) -> tuple[str, list[Any]]:
        where = "r.tenant = ? AND r.deleted = ?"
        args: list[Any] = [self.tenant.value, self.dialect.flag(False)]
        if resource_types:
            where += f" AND r.res_type IN ({', '.join('?' for _ in resource_types)})"
            args += list(resource_types)
        return where, args

    async def type_generation(self, *resource_types: str) -> tuple[int, int]:
        await self.flush()
        types = ", ".join("?" for _ in resource_types)
        rows = await self.conn.fetch(
            "SELECT COUNT(*), MAX(seq) FROM resource_versions"
            f" WHERE tenant = ? AND res_type IN ({types})",
            (self.tenant.value, *resource_types),
        )
        return int(rows[0][0]), int(rows[0][1] or 0)

    async def scan_current(
        self, resource_types: Sequence[str] | None, after: tuple[str, str] | None, limit: int
    ) -> list[StoredResource]:
        await self.flush()
        where, args = self._current_filter(resource_types)
        if after is not None:
            where += " AND (r.res_type > ? OR (r.res_type = ? AND r.res_id > ?))"
            args += [after[0], after[0], after[1]]
        rows = await self.conn.fetch(
            f"SELECT {RESOURCE_COLUMNS} FROM resources r WHERE {where}"
            " ORDER BY r.res_type, r.res_id LIMIT ?",
            [*args, limit],
        )
        return [decode_row(self.tenant, row, self.dialect) for row in rows]

    async def snapshot(self, query: SnapshotQuery) -> SnapshotPage:
        await self.flush()
        return await fetch_snapshot(self.conn, self.dialect, self.tenant, query)

    async def count_current(self, resource_types: Sequence[str] | None) -> int:
        await self.flush()
        where, args = self._current_filter(resource_types)
        rows = await self.conn.fetch(f"SELECT COUNT(*) FROM resources r WHERE {where}", args)
        return int(rows[0][0])

    async def search(self, plan: SearchPlan) -> tuple[list[StoredResource], int | None]:
        """The page and, when asked for, the total (see ``SearchStatements``)."""
        await self.flush()
        s = search_statements(self.tenant.value, plan, self.dialect)
        if s.walk is not None:
            rows = await self.conn.fetch(*s.walk)
            if len(rows) == plan.limit:  # the walk filled the page: the first matches
                known = None
                if s.walk_count is not None:  # beyond the cap within a longer walk?
                    known = int((await self.conn.fetch(*s.walk_count))[0][0])
                return self._decode(rows), await self._total(s, plan, rows, known)
            if s.counted_page is not None:  # a rarer word: its page and count from its rows
                rows = await self.conn.fetch(*s.counted_page)
                return self._decode(rows), int(rows[0][-1]) if rows else 0
        known = None  # matches known to exist beyond the cap
        small = await self._small(s)
        if small.sql is not None:
            rows = await self.conn.fetch(*small.sql)
            matches = int(rows[0][-1]) if rows else 0
            if matches <= small.cap and (rows or plan.offset == 0):
                return self._decode(rows), matches
            known = small.cap + 1 if rows else None
            if small.in_order and known is not None:  # the first matches: the page is theirs
                return self._decode(rows), await self._total(s, plan, rows, known)
        rows = await self.conn.fetch(*s.page)
        return self._decode(rows), await self._total(s, plan, rows, known)

    async def _small(self, s: SearchStatements) -> Small:
        """``small``, or ``broad_small`` when the driving clause has more index rows
        than ``CHAIN_CAP`` (``SearchStatements``)."""
        if s.small is None or s.driver_rows is None:
            return s.small_for(None)
        return s.small_for(int((await self.conn.fetch(*s.driver_rows))[0][0]))

    async def _total(
        self, s: SearchStatements, plan: SearchPlan, rows: Sequence[Any], known: int | None
    ) -> int | None:
        """The total for a page of ``rows``; ``known``: how many matches a statement
        already found, when that is beyond the cap."""
        if s.count is None:
            return None
        if len(rows) < plan.limit and (rows or plan.offset == 0):
            return plan.offset + len(rows)  # the last page: counting again would say the same
        if known is not None and known > ESTIMATE_CAP and s.estimate_where is not None:
            where, args = s.estimate_where
            return await estimate_beyond_cap(self.conn, self.dialect, where, args, known - 1)
        total = int((await self.conn.fetch(*s.count))[0][0])
        if s.estimate_where is not None and total > ESTIMATE_CAP:
            total = await estimate_beyond_cap(self.conn, self.dialect, *s.estimate_where)
        return total

    def _decode(self, rows: Sequence[Sequence[Any]]) -> list[StoredResource]:
        return [decode_row(self.tenant, row, self.dialect) for row in rows]

    async def included(
        self,
        matches: Sequence[StoredResource],
        specs: Sequence[IncludeSpec],
        max_depth: int,
        limit: int,
    ) -> list[StoredResource]:
        await self.flush()
        return await fetch_included(
            self.conn,
            self.dialect,
            self.tenant,
            matches,
            specs,
            max_depth=max_depth,
            max_resources=limit,
        )

    async def lock_condition(self, resource_type: str, condition: str) -> None:
        await self._settle()
        key = f"{self.tenant.value}|{resource_type}|{condition}"
        await self.dialect.lock_condition(self.conn, key)


async def fetch_history(
    conn: Conn, d: Dialect, tenant: TenantId, q: HistoryQuery
) -> list[HistoryRow]:
    where = ["r.tenant = ?"]
    args: list[Any] = [tenant.value]
    for column, value in (("r.res_type", q.resource_type), ("r.res_id", q.id)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if q.since is not None:
        where.append("r.last_updated >= ?")
        args.append(d.ts(q.since))
    if q.at is not None:
        where.append("r.last_updated <= ?")
        args.append(d.ts(q.at))
    if q.page_token is not None:
        where.append("r.seq < ?")
        args.append(int(q.page_token))
    sql = (
        f"SELECT {RESOURCE_COLUMNS}, r.seq, r.method FROM resource_versions r"
        f" WHERE {' AND '.join(where)} ORDER BY r.seq DESC LIMIT ?"
    )
    rows = await conn.fetch(sql, [*args, q.count + 1])
    return [HistoryRow(int(row[6]), decode_row(tenant, row, d), row[7]) for row in rows]


async def fetch_many(
    conn: Conn, d: Dialect, tenant: TenantId, keys: Sequence[ResourceKey]
) -> list[StoredResource]:
    found: dict[ResourceKey, StoredResource] = {}
    by_type: dict[str, list[str]] = {}
    for key in keys:
        by_type.setdefault(key.resource_type, []).append(key.id)
    for rtype, ids in by_type.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            sql = (
                f"SELECT {RESOURCE_COLUMNS} FROM resources r WHERE r.tenant = ?"
                f" AND r.res_type = ? AND r.deleted = ? AND r.res_id IN ({marks})"
            )
            for row in await conn.fetch(sql, [tenant.value, rtype, d.flag(False), *chunk]):
                stored = decode_row(tenant, row, d)
                found[stored.key] = stored
    return [found[k] for k in keys if k in found]


_PENDING = (
    "SELECT seq, tenant, res_type, res_id, version, payload FROM outbox"
    " WHERE published_at IS NULL AND dead_lettered_at IS NULL ORDER BY seq LIMIT ?"
)


async def fetch_pending_outbox(conn: Conn, limit: int) -> list[OutboxRow]:
    rows = await conn.fetch(_PENDING, (limit,))
    return [OutboxRow(int(r[0]), r[1], r[2], r[3], int(r[4]), bytes(r[5])) for r in rows]


async def mark_published(conn: Conn, d: Dialect, seqs: Sequence[int]) -> None:
    now = d.ts(datetime.now(UTC))
    for start in range(0, len(seqs), 500):
        chunk = list(seqs[start : start + 500])
        marks = ", ".join("?" for _ in chunk)
        await conn.execute(
            f"UPDATE outbox SET published_at = ? WHERE seq IN ({marks})", [now, *chunk]
        )
