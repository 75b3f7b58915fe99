"""``_include`` / ``_revinclude`` (with ``:iterate`` and ``*``), inside the search's session.

Included resources are read through the reference index in the same tenant
only: the join carries the tenant, so an include can never cross tenants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.search import IncludeSpec
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.sql.dialect import Conn, Dialect
from polyfhir_primary.adapters.sql.rows import decode_row

_COLUMNS = "r.res_type, r.res_id, r.version, r.last_updated, r.deleted, r.content"


def include_statement(
    spec: IncludeSpec, ids: list[str], d: Dialect, tenant: str
) -> tuple[str, list[Any]]:
    marks = ", ".join("?" for _ in ids)
    args: list[Any] = [tenant]
    if spec.reverse:
        join = "r.res_type = x.res_type AND r.res_id = x.res_id"
        where = f"x.target_type = ? AND x.target_id IN ({marks})"
        owner_type = spec.target_type
    else:
        join = "r.res_type = x.target_type AND r.res_id = x.target_id"
        where = f"x.res_id IN ({marks})"
        owner_type = None
    sql = (
        f"SELECT DISTINCT {_COLUMNS} FROM idx_reference x JOIN resources r"
        f" ON r.tenant = x.tenant AND {join} WHERE x.tenant = ?"
    )
    if not spec.is_bare_wildcard:  # _revinclude=* takes references from any type
        sql += " AND x.res_type = ?"
        args.append(spec.source_type)
    if spec.param != "*":
        sql += " AND x.param = ?"
        args.append(spec.param)
    if not spec.reverse and spec.target_type:
        sql += " AND x.target_type = ?"
        args.append(spec.target_type)
    sql += f" AND {where} AND r.deleted = ?"
    return sql, [*args, *([owner_type] if spec.reverse else []), *ids, d.flag(False)]


async def _one(
    conn: Conn, d: Dialect, tenant: TenantId, spec: IncludeSpec, base: Sequence[StoredResource]
) -> list[StoredResource]:
    if spec.reverse:
        pool = [s for s in base if spec.target_type is None or s.resource_type == spec.target_type]
        by_type: dict[str, list[str]] = {}
        for s in pool:
            by_type.setdefault(s.resource_type, []).append(s.id)
        out: list[StoredResource] = []
        for rtype, ids in by_type.items():
            typed = IncludeSpec(spec.source_type, spec.param, rtype, True, spec.iterate)
            sql, args = include_statement(typed, ids, d, tenant.value)
            out += [decode_row(tenant, row, d) for row in await conn.fetch(sql, args)]
        return out
    if spec.is_bare_wildcard:  # _include=*: every reference of every matched type
        types = dict.fromkeys(s.resource_type for s in base)
        typed_specs = [IncludeSpec(rtype, "*", None, False, spec.iterate) for rtype in types]
        return [
            found for typed in typed_specs for found in await _one(conn, d, tenant, typed, base)
        ]
    ids = [s.id for s in base if s.resource_type == spec.source_type]
    if not ids:
        return []
    sql, args = include_statement(spec, ids, d, tenant.value)
    return [decode_row(tenant, row, d) for row in await conn.fetch(sql, args)]


async def fetch_included(
    conn: Conn,
    d: Dialect,
    tenant: TenantId,
    matches: Sequence[StoredResource],
    specs: Sequence[IncludeSpec],
    *,
    max_depth: int,
    max_resources: int,
) -> list[StoredResource]:
    seen: set[ResourceKey] = {s.key for s in matches}
    included: list[StoredResource] = []
    frontier: list[StoredResource] = list(matches)
    for depth in range(max_depth):
        active = [s for s in specs if depth == 0 or s.iterate]
        found: list[StoredResource] = []
        for spec in active:
            for stored in await _one(conn, d, tenant, spec, frontier):
                if stored.key not in seen and len(included) + len(found) < max_resources:
                    seen.add(stored.key)
                    found.append(stored)
        included += found
        if not found or not any(s.iterate for s in specs):
            break
        frontier = found
    return included
