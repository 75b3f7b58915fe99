"""Every tenant database's outbox as one source for the relay (database per tenant).

The write stays atomic: a tenant's outbox rows live in the tenant's own database.
The relay is the same :class:`polyfhir_bus.relay.OutboxRelay`; this class is its
``OutboxSource`` over many outboxes:

- **Seqs**: a row's seq is only unique in its database, so the relay sees
  ``placement id << 40 | seq`` and every call routes back by the high bits.
- **Positions** come from one counter, the control database's ``relay_positions``,
  so they stay gapless and increasing per partition across tenants (freshness and
  gap detection work as with one outbox). A numbering is two commits: the control
  database reserves the positions and journals them (``relay_assignments``), then
  the tenant database takes them (and keeps, in its own ``relay_positions``, the
  highest per partition, for its tenant's freshness question); the journal entry
  goes last. A relay that died in between finishes the journal before it reads
  anything, so no position is lost or given twice.
- **Which outboxes**: the *dirty* ones — written since they were last found empty:
  by this process (marked after each commit, which also wakes the relay) or by
  another (it bumps the placement's ``outbox_hint`` in the control database after
  its commit; the relay reads every placement's hint each cycle, one query). Every
  ``SWEEP_EVERY_S`` the relay also reads the next ``sweep`` outboxes round-robin:
  rows nobody told it about (a crash between a commit and its hint). So an idle
  relay opens no tenant database, a busy one opens those being written to. The
  first cycle after taking the claim reads every outbox (rows an earlier relay
  positioned but did not publish are re-sent before anything gets a new position).
- **Order**: per resource as before (one resource, one database, rows in seq order,
  positions assigned in that order); re-sends merge every outbox in (partition,
  position) order.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import TypeVar

from polyfhir_bus.relay import OutboxRecord
from polyfhir_primary.adapters.database import DeadLetteredRow, OutboxRow
from polyfhir_primary.adapters.sql import outbox
from polyfhir_primary.adapters.sql.dialect import Conn, Dialect
from polyfhir_primary.adapters.sql.session import fetch_pending_outbox
from polyfhir_primary.adapters.sql.tenancy import registry
from polyfhir_primary.adapters.sql.tenancy.registry import Placement
from polyfhir_primary.adapters.sql.tenancy.tenant_pools import TenantDatabase, TenantDatabases

log = logging.getLogger(__name__)
SEQ_BITS = 40
SWEEP_EVERY_S = 30.0  # how often the relay also reads outboxes it was not told about
_SEQ_MASK = (1 << SEQ_BITS) - 1
T = TypeVar("T")


def encode(placement: int, seq: int) -> int:
    return (placement << SEQ_BITS) | seq


def decode(global_seq: int) -> tuple[int, int]:
    return global_seq >> SEQ_BITS, global_seq & _SEQ_MASK


def by_placement(global_seqs: Iterable[int]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    for g in sorted(global_seqs):
        pid, seq = decode(g)
        grouped.setdefault(pid, []).append(seq)
    return grouped


class TenantOutboxes:
    def __init__(
        self,
        control: TenantDatabase,
        dialect: Dialect,
        databases: TenantDatabases[TenantDatabase],
        sweep: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._control, self._d, self._dbs, self._sweep = control, dialect, databases, sweep
        self._dirty: dict[int, int] = {}  # placement -> generation of the last write seen
        self._backlog: dict[int, int] = {}  # placement -> pending rows when last counted
        self._hints: dict[int, int] = {}  # placement -> outbox_hint last seen
        self._cursor = 0
        self._swept_at = -SWEEP_EVERY_S
        self._clock = clock
        self._wake: Callable[[], None] | None = None

    # -- the write side ---------------------------------------------------------------

    async def changed(self, placement: Placement) -> None:
        """A write to ``placement`` committed: read its outbox next cycle. The relay of
        this process is woken; when another process runs the relay, the placement's
        ``outbox_hint`` tells it (a failure to tell is logged: the sweep finds the rows)."""
        self._dirty[placement.id] = self._dirty.get(placement.id, 0) + 1
        self._backlog[placement.id] = max(1, self._backlog.get(placement.id, 0))
        if self._wake is not None:
            self._wake()
            return
        try:
            async with self._control.transaction() as conn:
                await registry.hint(conn, placement)
        except Exception as exc:  # the write is committed: never fail it for a hint
            log.warning("outbox hint for tenant %s failed: %s", placement.tenant, exc)

    def forget(self, placement: Placement) -> None:
        self._dirty.pop(placement.id, None)
        self._backlog.pop(placement.id, None)

    async def claim(self, wake: Callable[[], None]) -> bool:
        """Take the relay's claim. When this process just took it, every outbox is read
        in the next cycle: an earlier relay may have left positioned rows unpublished
        anywhere, and they go before any new position is handed out."""
        held = await self._control.claim_relay(wake)
        if held and self._wake is None:
            for pid in await self._placements():
                self._dirty[pid] = self._dirty.get(pid, 0) + 1
                self._backlog[pid] = max(1, self._backlog.get(pid, 0))
        self._wake = wake if held else None
        return held

    async def release(self) -> None:
        self._wake = None
        await self._control.release_relay()

    # -- which outboxes ---------------------------------------------------------------

    async def _placements(self) -> dict[int, Placement]:
        """Every placement; one whose hint moved (another process wrote) becomes dirty."""
        async with self._control.transaction() as conn:
            hinted = await registry.hinted(conn)
        known: dict[int, Placement] = {}
        for placement, hint in hinted.items():
            known[placement.id] = placement
            if self._hints.get(placement.id, 0) != hint:
                self._dirty[placement.id] = self._dirty.get(placement.id, 0) + 1
                self._backlog[placement.id] = max(1, self._backlog.get(placement.id, 0))
            self._hints[placement.id] = hint
        return known

    async def _candidates(self, *, sweep: bool) -> list[Placement]:
        """The dirty outboxes; with ``sweep``, every ``SWEEP_EVERY_S`` also the next
        ``sweep`` placements round-robin (rows nobody told the relay about)."""
        known = await self._placements()
        for gone in set(self._dirty) - set(known):
            self._dirty.pop(gone, None)
        chosen = [known[pid] for pid in sorted(self._dirty)]
        ring = sorted(known)
        now = self._clock()
        if sweep and ring and now - self._swept_at >= SWEEP_EVERY_S:
            self._swept_at = now
            start = self._cursor % len(ring)
            sweeping = (ring[start:] + ring[:start])[: self._sweep]
            self._cursor = start + len(sweeping)
            chosen += [known[pid] for pid in sweeping if pid not in self._dirty]
        return chosen

    async def _in(self, placement: Placement, read: Callable[[Conn], Awaitable[T]]) -> T:
        async with self._dbs.lease(placement) as db, db.transaction() as conn:
            return await read(conn)

    # -- OutboxSource -----------------------------------------------------------------

    async def positioned(self, limit: int) -> list[OutboxRecord]:
        await self.finish_assignments()
        found: list[OutboxRecord] = []
        for p in await self._candidates(sweep=False):
            rows = await self._in(p, lambda c: outbox.fetch_positioned(c, self._d, limit))
            found += [replace(r, seq=encode(p.id, r.seq)) for r in rows]
        found.sort(key=lambda r: (r.partition or 0, r.position or 0))
        return found[:limit]

    async def unpositioned(self, limit: int) -> list[OutboxRecord]:
        found: list[OutboxRecord] = []
        for p in await self._candidates(sweep=True):
            if len(found) >= limit:
                break
            generation = self._dirty.get(p.id)
            want = limit - len(found)
            rows = await self._in(p, partial(outbox.fetch_unpositioned, d=self._d, limit=want))
            found += [replace(r, seq=encode(p.id, r.seq)) for r in rows]
            if rows:
                self._backlog[p.id] = max(len(rows), self._backlog.get(p.id, 0))
            elif self._dirty.get(p.id) == generation:  # no write since the read began
                self._dirty.pop(p.id, None)
        return found

    async def assign(self, partitions: Mapping[int, int]) -> dict[int, int]:
        """Reserve positions in the control database (journalled), then hand them over."""
        positions: dict[int, int] = {}
        async with self._control.transaction() as conn:
            per_partition: dict[int, list[int]] = {}
            for g in sorted(partitions):
                per_partition.setdefault(partitions[g], []).append(g)
            for partition, seqs in sorted(per_partition.items()):
                last = await _reserve(conn, self._d, partition, len(seqs))
                for offset, g in enumerate(seqs, start=1):
                    positions[g] = last + offset
            await conn.executemany(
                "INSERT INTO relay_assignments (placement, seq, partition, position)"
                " VALUES (?, ?, ?, ?)",
                [(*decode(g), partitions[g], pos) for g, pos in positions.items()],
            )
        await self.finish_assignments()
        return positions

    async def finish_assignments(self) -> None:
        """Hand journalled positions to their tenant databases, then drop the journal rows."""
        async with self._control.transaction() as conn:
            rows = await conn.fetch(
                "SELECT placement, seq, partition, position FROM relay_assignments"
                " ORDER BY placement, seq"
            )
        if not rows:
            return
        known = await self._placements()
        for pid, group in itertools.groupby(rows, key=lambda r: int(r[0])):
            assigned = [(int(r[2]), int(r[3]), int(r[1])) for r in group]
            if pid in known:
                await self._in(known[pid], partial(_take_positions, assigned=assigned))
            async with self._control.transaction() as conn:
                await conn.executemany(
                    "DELETE FROM relay_assignments WHERE placement = ? AND seq = ?",
                    [(pid, seq) for _, _, seq in assigned],
                )

    async def mark_published(self, global_seqs: Sequence[int]) -> None:
        known = await self._placements()
        for pid, seqs in by_placement(global_seqs).items():
            if pid in known:
                async with self._dbs.lease(known[pid]) as db:
                    await db.mark_published(seqs)

    async def mark_dead_lettered(self, reasons: Mapping[int, str]) -> None:
        known = await self._placements()
        for pid, seqs in by_placement(reasons).items():
            if pid in known:
                async with self._dbs.lease(known[pid]) as db:
                    await db.mark_dead_lettered({s: reasons[encode(pid, s)] for s in seqs})

    async def backlog(self) -> int:
        """Pending rows: counted in the outboxes that had some (or were written to) when
        last seen; an outbox found empty counts 0 until a write or the sweep says more."""
        known = await self._placements()
        for pid in [p for p, n in self._backlog.items() if n > 0]:
            if pid in known:
                self._backlog[pid] = await self._in(known[pid], outbox.count_backlog)
            else:
                self._backlog.pop(pid, None)
        return sum(self._backlog.values())

    # -- an operator's views (every tenant) -------------------------------------------

    async def pending(self, limit: int) -> list[OutboxRow]:
        found: list[OutboxRow] = []
        for p in (await self._placements()).values():
            want = limit - len(found)
            rows = await self._in(p, partial(fetch_pending_outbox, limit=want))
            found += [replace(r, seq=encode(p.id, r.seq)) for r in rows]
            if len(found) >= limit:
                break
        return found

    async def dead_lettered(self, limit: int) -> list[DeadLetteredRow]:
        found: list[DeadLetteredRow] = []
        for p in (await self._placements()).values():
            rows = await self._in(p, lambda c: outbox.list_dead_lettered(c, self._d, limit))
            found += [replace(r, seq=encode(p.id, r.seq)) for r in rows]
        return sorted(found, key=lambda r: r.dead_lettered_at)[:limit]

    async def retry_dead_lettered(self, global_seqs: Sequence[int] | None) -> int:
        known = await self._placements()
        if global_seqs is None:
            wanted: dict[int, list[int] | None] = dict.fromkeys(known)
        else:
            wanted = dict(by_placement(global_seqs))
        retried = 0
        for pid, seqs in wanted.items():
            if pid in known:
                count = await self._in(known[pid], partial(outbox.retry_dead_lettered, seqs=seqs))
                if count:
                    await self.changed(known[pid])
                retried += count
        return retried


async def _reserve(conn: Conn, d: Dialect, partition: int, count: int) -> int:
    """Advance the partition's counter by ``count``; the position before."""
    await conn.execute(
        "INSERT INTO relay_positions (partition, position) VALUES (?, 0)"
        " ON CONFLICT (partition) DO NOTHING",
        (partition,),
    )
    rows = await conn.fetch(
        "SELECT position FROM relay_positions WHERE partition = ?" + d.for_update, (partition,)
    )
    last = int(rows[0][0])
    await conn.execute(
        "UPDATE relay_positions SET position = ? WHERE partition = ?", (last + count, partition)
    )
    return last


async def _take_positions(conn: Conn, assigned: Sequence[tuple[int, int, int]]) -> None:
    """In a tenant database: give rows (partition, position, seq) their positions, and
    keep each partition's highest in its ``relay_positions`` (its freshness answer)."""
    await conn.executemany(
        "UPDATE outbox SET partition = ?, position = ? WHERE seq = ? AND position IS NULL",
        assigned,
    )
    highest: dict[int, int] = {}
    for partition, position, _ in assigned:
        highest[partition] = max(position, highest.get(partition, 0))
    for partition, position in sorted(highest.items()):
        await conn.execute(
            "INSERT INTO relay_positions (partition, position) VALUES (?, ?)"
            " ON CONFLICT (partition) DO NOTHING",
            (partition, position),
        )
        await conn.execute(
            "UPDATE relay_positions SET position = ? WHERE partition = ? AND position < ?",
            (position, partition, position),
        )
