"""A page of one resource type as it stood at an instant (bulk export's snapshot).

Keyset over the ``resources`` primary key ``(tenant, res_type, res_id)``: most rows'
current version is older than the instant and is the answer; a row changed after it
is answered from ``resource_versions`` (its last version at or before the instant; none
when it was created later). The answer does not depend on when the page is read, so
a long export resumed after a restart stays one consistent snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyfhir_core.contracts.primary_store import SnapshotPage, SnapshotQuery
from polyfhir_core.resources import StoredResource
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.sql.dialect import Conn, Dialect
from polyfhir_primary.adapters.sql.rows import decode_row
from polyfhir_primary.search.sql.schema import RESOURCE_COLUMNS


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


async def _current_page(
    conn: Conn, d: Dialect, tenant: TenantId, q: SnapshotQuery
) -> list[StoredResource]:
    where = ["r.tenant = ?", "r.res_type = ?"]
    args: list[Any] = [tenant.value, q.resource_type]
    if q.after_id is not None:
        where.append("r.res_id > ?")
        args.append(q.after_id)
    if q.since is not None:  # a version after ``since`` makes the current one later still
        where.append("r.last_updated > ?")
        args.append(d.ts(q.since))
    if q.ids is not None:
        where.append(f"r.res_id IN ({_marks(q.ids)})")
        args += q.ids
    sql = (
        f"SELECT {RESOURCE_COLUMNS} FROM resources r WHERE {' AND '.join(where)}"
        " ORDER BY r.res_id LIMIT ?"
    )
    return [decode_row(tenant, row, d) for row in await conn.fetch(sql, [*args, q.limit])]


async def _earlier_versions(
    conn: Conn, d: Dialect, tenant: TenantId, q: SnapshotQuery, ids: list[str]
) -> dict[str, StoredResource]:
    """The last version at or before ``q.as_of`` of each of ``ids`` that has one."""
    sql = (
        f"SELECT {RESOURCE_COLUMNS} FROM resource_versions r WHERE r.tenant = ?"
        f" AND r.res_type = ? AND r.res_id IN ({_marks(ids)}) AND r.last_updated <= ?"
        " ORDER BY r.res_id, r.version"
    )
    rows = await conn.fetch(sql, [tenant.value, q.resource_type, *ids, d.ts(q.as_of)])
    found: dict[str, StoredResource] = {}
    for row in rows:
        stored = decode_row(tenant, row, d)
        found[stored.id] = stored  # ascending versions: the last one wins
    return found


async def fetch_snapshot(
    conn: Conn, d: Dialect, tenant: TenantId, q: SnapshotQuery
) -> SnapshotPage:
    current = await _current_page(conn, d, tenant, q)
    changed = [r.id for r in current if r.last_updated > q.as_of]
    earlier = await _earlier_versions(conn, d, tenant, q, changed) if changed else {}
    resources: list[StoredResource] = []
    for stored in current:
        as_of = stored if stored.last_updated <= q.as_of else earlier.get(stored.id)
        if as_of is None or (q.since is not None and as_of.last_updated <= q.since):
            continue
        resources.append(as_of)
    next_after = current[-1].id if len(current) == q.limit else None
    return SnapshotPage(resources, next_after)
