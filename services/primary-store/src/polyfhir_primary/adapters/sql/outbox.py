"""The outbox as the relay and the freshness checks see it (SQL shared by both dialects).

A row is *pending* until ``published_at`` is set. Before its first send it gets a
``partition`` and a ``position``: the next value of that partition's counter in
``relay_positions``, assigned in one transaction with the counter update, so
positions are gapless per partition and survive a relay crash (a re-send
carries the same position).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from polyfhir_bus.events import event_key
from polyfhir_bus.relay import OutboxRecord
from polyfhir_core.contracts.primary_store import ResourceVersion, TenantPositions
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.database import DeadLetteredRow
from polyfhir_primary.adapters.sql.dialect import Conn, Dialect

_COLUMNS = "seq, tenant, res_type, res_id, payload, created_at, partition, position"
# Pending: neither published nor dead-lettered (a dead-lettered row is set aside for good).
PENDING = "published_at IS NULL AND dead_lettered_at IS NULL"
_UNPOSITIONED = (
    f"SELECT {_COLUMNS} FROM outbox WHERE {PENDING} AND position IS NULL ORDER BY seq LIMIT ?"
)
_POSITIONED = (
    f"SELECT {_COLUMNS} FROM outbox WHERE {PENDING} AND position IS NOT NULL"
    " ORDER BY partition, position LIMIT ?"
)
BACKLOG = f"SELECT COUNT(*) FROM outbox WHERE {PENDING}"


def _record(row: Sequence[Any], d: Dialect) -> OutboxRecord:
    seq, tenant, rtype, rid, payload, created_at, partition, position = row
    return OutboxRecord(
        seq=int(seq),
        key=event_key(tenant, rtype, rid),
        payload=bytes(payload),
        created_at=d.read_ts(created_at),
        partition=None if partition is None else int(partition),
        position=None if position is None else int(position),
    )


async def fetch_unpositioned(conn: Conn, d: Dialect, limit: int) -> list[OutboxRecord]:
    return [_record(row, d) for row in await conn.fetch(_UNPOSITIONED, (limit,))]


async def fetch_positioned(conn: Conn, d: Dialect, limit: int) -> list[OutboxRecord]:
    return [_record(row, d) for row in await conn.fetch(_POSITIONED, (limit,))]


async def count_backlog(conn: Conn) -> int:
    return int((await conn.fetch(BACKLOG))[0][0])


async def mark_dead_lettered(conn: Conn, d: Dialect, reasons: Mapping[int, str]) -> None:
    """Set rows aside with their reasons (the broker refused them for good)."""
    now = d.ts(datetime.now(UTC))
    await conn.executemany(
        "UPDATE outbox SET dead_lettered_at = ?, dead_letter_reason = ?"
        " WHERE seq = ? AND published_at IS NULL",
        [(now, reason, seq) for seq, reason in sorted(reasons.items())],
    )


async def list_dead_lettered(conn: Conn, d: Dialect, limit: int) -> list[DeadLetteredRow]:
    """The dead-lettered rows, oldest first, for an operator."""
    rows = await conn.fetch(
        "SELECT seq, tenant, res_type, res_id, version, LENGTH(payload), dead_lettered_at,"
        " dead_letter_reason FROM outbox WHERE dead_lettered_at IS NOT NULL ORDER BY seq LIMIT ?",
        (limit,),
    )
    return [
        DeadLetteredRow(
            seq=int(r[0]),
            tenant=r[1],
            resource_type=r[2],
            resource_id=r[3],
            version=int(r[4]),
            payload_bytes=int(r[5]),
            dead_lettered_at=d.read_ts(r[6]),
            reason=r[7] or "",
        )
        for r in rows
    ]


# Published before the cutoff, and not the tenant's newest published row of its partition:
# that one stays, because a secondary's freshness check reads the tenant's highest
# published position from it (tenant_positions). Dead-lettered and pending rows have no
# published_at and are never pruned.
_PRUNABLE = (
    "SELECT o.seq FROM outbox o WHERE o.published_at IS NOT NULL AND o.published_at < ?"
    " AND o.dead_lettered_at IS NULL AND o.position < (SELECT MAX(n.position) FROM outbox n"
    " WHERE n.tenant = o.tenant AND n.partition = o.partition AND n.published_at IS NOT NULL)"
    " ORDER BY o.seq LIMIT ?"
)


async def prune_published(conn: Conn, d: Dialect, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` rows published before ``before``, oldest first."""
    return await conn.execute(
        f"DELETE FROM outbox WHERE seq IN ({_PRUNABLE})", (d.ts(before), limit)
    )


async def retry_dead_lettered(conn: Conn, seqs: Sequence[int] | None) -> int:
    """Make dead-lettered rows (all when ``seqs`` is None) pending again. They lose their
    position and are numbered afresh, so a secondary's freshness (positions) counts them."""
    where = "dead_lettered_at IS NOT NULL"
    args: list[Any] = []
    if seqs is not None:
        where += f" AND seq IN ({', '.join('?' for _ in seqs) or 'NULL'})"
        args = list(seqs)
    return await conn.execute(
        "UPDATE outbox SET dead_lettered_at = NULL, dead_letter_reason = NULL,"
        f" partition = NULL, position = NULL WHERE {where}",
        args,
    )


async def assign_positions(conn: Conn, d: Dialect, partitions: Mapping[int, int]) -> dict[int, int]:
    """Inside the caller's transaction: number ``seq -> partition`` rows per partition.

    Rows that got a position meanwhile (another relay, which should not exist) are left
    alone and left out of the result, so no row is ever numbered twice.
    """
    wanted: dict[int, list[int]] = {}
    for seq in await _still_unpositioned(conn, sorted(partitions)):
        wanted.setdefault(partitions[seq], []).append(seq)
    positions: dict[int, int] = {}
    for partition, seqs in sorted(wanted.items()):
        await conn.execute(
            "INSERT INTO relay_positions (partition, position) VALUES (?, 0)"
            " ON CONFLICT (partition) DO NOTHING",
            (partition,),
        )
        rows = await conn.fetch(
            "SELECT position FROM relay_positions WHERE partition = ?" + d.for_update,
            (partition,),
        )
        last = int(rows[0][0])
        await conn.execute(
            "UPDATE relay_positions SET position = ? WHERE partition = ?",
            (last + len(seqs), partition),
        )
        for offset, seq in enumerate(seqs, start=1):
            positions[seq] = last + offset
    await conn.executemany(
        "UPDATE outbox SET partition = ?, position = ? WHERE seq = ? AND position IS NULL",
        [(partitions[seq], position, seq) for seq, position in positions.items()],
    )
    return positions


async def _still_unpositioned(conn: Conn, seqs: list[int]) -> list[int]:
    found: list[int] = []
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = await conn.fetch(
            f"SELECT seq FROM outbox WHERE position IS NULL AND seq IN ({marks}) ORDER BY seq",
            chunk,
        )
        found += [int(r[0]) for r in rows]
    return found


async def tenant_positions(conn: Conn, tenant: TenantId) -> TenantPositions:
    """Per partition the tenant's highest published position, and its pending rows.

    Asked before every search a secondary serves, so one statement: a scalar
    subquery per partition, each answered from the end of the (tenant, partition,
    position) index.
    """
    rows = await conn.fetch(
        "SELECT r.partition, (SELECT o.position FROM outbox o"
        " WHERE o.tenant = ? AND o.partition = r.partition"
        " AND o.position IS NOT NULL AND o.published_at IS NOT NULL"
        " ORDER BY o.position DESC LIMIT 1)"
        " FROM relay_positions r",
        (tenant.value,),
    )
    found = {int(partition): int(position) for partition, position in rows if position is not None}
    pending = await conn.fetch(
        f"SELECT COUNT(*) FROM outbox WHERE tenant = ? AND {PENDING}", (tenant.value,)
    )
    return TenantPositions(partitions=found, pending=int(pending[0][0]))


async def stream_positions(conn: Conn) -> TenantPositions:
    """Per partition the last assigned position, and every unpublished row (all tenants)."""
    rows = await conn.fetch("SELECT partition, position FROM relay_positions", [])
    found = {int(partition): int(position) for partition, position in rows if position}
    return TenantPositions(partitions=found, pending=await count_backlog(conn))


async def tenants(conn: Conn) -> list[str]:
    """Every tenant holding resources: a loose index scan of the primary key (one probe
    per tenant), not a scan of every resource."""
    rows = await conn.fetch(
        "WITH RECURSIVE t(tenant) AS ("
        " SELECT MIN(tenant) FROM resources"
        " UNION ALL"
        " SELECT (SELECT MIN(r.tenant) FROM resources r WHERE r.tenant > t.tenant)"
        " FROM t WHERE t.tenant IS NOT NULL)"
        " SELECT tenant FROM t WHERE tenant IS NOT NULL",
        [],
    )
    return [str(r[0]) for r in rows]


async def list_versions(
    conn: Conn,
    d: Dialect,
    tenant: TenantId,
    after: ResourceKey | None,
    limit: int,
    resource_types: Sequence[str] | None = None,
) -> list[ResourceVersion]:
    """Current versions (deleted ones too) in (type, id) order after ``after``."""
    where = "tenant = ?"
    args: list[Any] = [tenant.value]
    if resource_types is not None:
        where += f" AND res_type IN ({', '.join('?' for _ in resource_types) or 'NULL'})"
        args += list(resource_types)
    if after is not None:
        where += " AND (res_type > ? OR (res_type = ? AND res_id > ?))"
        args += [after.resource_type, after.resource_type, after.id]
    rows = await conn.fetch(
        f"SELECT res_type, res_id, version, deleted FROM resources WHERE {where}"
        " ORDER BY res_type, res_id LIMIT ?",
        [*args, limit],
    )
    return [ResourceVersion(r[0], r[1], int(r[2]), bool(r[3])) for r in rows]
