"""The tenants registry and a tenant's removal (SQL shared by both dialects).

docs/tenancy.md, "Lifecycle": a tenant is registered by its first write (the
session adds :data:`REGISTER` to that transaction) or by an administrator; its
removal deletes its rows one bounded batch of one table per call (one short
transaction each, so a large tenant never holds one huge transaction), the
registration last. Jobs still running are kept: the deletion job itself runs in
the tenant when an administrator deletes their own tenant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from polyfhir_core.contracts.primary_store import TenantRecord
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.sql.dialect import Conn, Dialect
from polyfhir_primary.adapters.sql.index_rows import INDEX_TABLES

REGISTER = "INSERT INTO tenants (tenant, created) VALUES (?, ?) ON CONFLICT DO NOTHING"
_RECORDS = (
    "SELECT t.tenant, t.created, t.state,"
    " (SELECT COUNT(*) FROM resources r WHERE r.tenant = t.tenant AND r.deleted = ?)"
    " FROM tenants t WHERE t.tenant = ? OR substr(t.tenant, 1, ?) = ? ORDER BY t.tenant"
)
_MARK_DELETING = "UPDATE tenants SET state = 'deleting' WHERE tenant = ?"


@dataclass(frozen=True, slots=True)
class TableDeletion:
    """One table's batch: ``statements`` run in order with (tenant, batch); the last
    one's row count is what the table lost."""

    table: str
    statements: tuple[str, ...]


def _by_key(table: str, key: str, where: str = "tenant = ?") -> TableDeletion:
    sql = f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {where} LIMIT ?)"
    return TableDeletion(table, (sql,))


_ORDER = (*INDEX_TABLES, "terminology_closure", "valueset_rules", "resource_versions", "outbox")
_JOBS_DONE = "tenant = ? AND state <> 'running'"
_LAST = TableDeletion("tenants", ("DELETE FROM tenants WHERE tenant = ? AND ? > 0",))


def postgres_deletions() -> list[TableDeletion]:
    """PostgreSQL: rows by their physical address (``ctid``), every table alike."""
    tables = [*_ORDER[:-2], "fulltext", *_ORDER[-2:], "resources"]
    plans = [
        TableDeletion(
            t,
            (
                f"DELETE FROM {t} WHERE ctid = ANY(ARRAY("
                f"SELECT ctid FROM {t} WHERE tenant = ? LIMIT ?))",
            ),
        )
        for t in tables
    ]
    jobs = "DELETE FROM jobs WHERE ctid = ANY(ARRAY(SELECT ctid FROM jobs WHERE {} LIMIT ?))"
    return [*plans, TableDeletion("jobs", (jobs.format(_JOBS_DONE),)), _LAST]


def sqlite_deletions() -> list[TableDeletion]:
    """SQLite: by rowid; ``resources`` has none (its key instead); a document's FTS5
    row goes with its ``fulltext_docs`` row."""
    docs = "SELECT docid FROM fulltext_docs WHERE tenant = ? ORDER BY docid LIMIT ?"
    fulltext = TableDeletion(
        "fulltext",
        (
            f"DELETE FROM fts_resources WHERE rowid IN ({docs})",
            f"DELETE FROM fulltext_docs WHERE docid IN ({docs})",
        ),
    )
    resources = (
        "DELETE FROM resources WHERE (tenant, res_type, res_id) IN"
        " (SELECT tenant, res_type, res_id FROM resources WHERE tenant = ? LIMIT ?)"
    )
    return [
        *(_by_key(t, "rowid") for t in _ORDER[:-2]),
        fulltext,
        *(_by_key(t, "rowid") for t in _ORDER[-2:]),
        TableDeletion("resources", (resources,)),
        _by_key("jobs", "rowid", _JOBS_DONE),
        _LAST,
    ]


async def delete_batch(
    conn: Conn, plans: Sequence[TableDeletion], tenant: TenantId, batch: int
) -> dict[str, int]:
    """Inside one transaction: up to ``batch`` rows of the first table still holding
    some; ``{}`` when none does (the tenant is gone)."""
    for plan in plans:
        removed = 0
        for sql in plan.statements:
            removed = await conn.execute(sql, (tenant.value, batch))
        if removed:
            return {plan.table: removed}
    return {}


async def register(conn: Conn, d: Dialect, tenant: TenantId, now: datetime) -> bool:
    """Register ``tenant``; whether this call did."""
    return await conn.execute(REGISTER, (tenant.value, d.ts(now))) == 1


async def mark_deleting(conn: Conn, tenant: TenantId) -> bool:
    return await conn.execute(_MARK_DELETING, (tenant.value,)) == 1


async def records(conn: Conn, d: Dialect, under: TenantId) -> list[TenantRecord]:
    """``under`` and the registered tenants below it, with their resource counts."""
    prefix = under.value + "/"
    args = (d.flag(False), under.value, len(prefix), prefix)
    return [
        TenantRecord(str(row[0]), d.read_ts(row[1]), str(row[2]), int(row[3]))
        for row in await conn.fetch(_RECORDS, args)
    ]
