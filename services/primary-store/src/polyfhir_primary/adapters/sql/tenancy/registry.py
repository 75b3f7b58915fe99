"""The control database's ``tenant_placements``: which schema, database or file
holds each tenant (SQL shared by both dialects, on a ``Conn`` in a transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from polyfhir_primary.adapters.sql.dialect import Conn, Dialect


@dataclass(frozen=True, slots=True)
class Placement:
    id: int  # never reused: numbers the tenant's outbox rows for the relay
    tenant: str
    location: str  # schema name, database name or file name


_COLUMNS = "id, tenant, location"


def _placement(row: Sequence[Any]) -> Placement:
    pid, tenant, location = row
    return Placement(int(pid), str(tenant), str(location))


async def find(conn: Conn, tenant: str) -> Placement | None:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM tenant_placements WHERE tenant = ?", (tenant,))
    return _placement(rows[0]) if rows else None


async def add(conn: Conn, d: Dialect, tenant: str, strategy: str, location: str) -> Placement:
    """Register ``tenant`` (a concurrent registration of the same tenant wins alike)."""
    await conn.execute(
        "INSERT INTO tenant_placements (tenant, strategy, location, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (tenant) DO NOTHING",
        (tenant, strategy, location, d.ts(datetime.now(UTC))),
    )
    found = await find(conn, tenant)
    assert found is not None
    return found


async def every(conn: Conn) -> list[Placement]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM tenant_placements ORDER BY tenant")
    return [_placement(r) for r in rows]


async def remove(conn: Conn, placement: Placement) -> None:
    await conn.execute("DELETE FROM relay_assignments WHERE placement = ?", (placement.id,))
    await conn.execute("DELETE FROM tenant_placements WHERE id = ?", (placement.id,))


async def hinted(conn: Conn) -> dict[Placement, int]:
    """Every placement with its outbox hint (how often other processes wrote to it)."""
    rows = await conn.fetch(f"SELECT {_COLUMNS}, outbox_hint FROM tenant_placements")
    return {_placement(r[:3]): int(r[3]) for r in rows}


async def hint(conn: Conn, placement: Placement) -> None:
    """Tell the relay, wherever it runs, that ``placement``'s outbox has new rows."""
    await conn.execute(
        "UPDATE tenant_placements SET outbox_hint = outbox_hint + 1 WHERE id = ?",
        (placement.id,),
    )
