"""Database per tenant: a PostgreSQL database or a SQLite file of its own per tenant.

The operator's URL names the *control* database (migrated like any other): the
jobs, the relay's position counter and claim, and ``tenant_placements`` (which
database is whose). Each tenant's database is an ordinary adapter
(:class:`PostgresDatabase`, :class:`SqliteDatabase`) with the whole table set,
its own outbox included, so a write is one transaction in one database. At most
``POLYFHIR_TENANT_POOLS_MAX`` tenant databases are open at once
(:mod:`.tenant_pools`); the relay reads every tenant's outbox through
:mod:`.tenant_outbox`.

A tenant is provisioned by its first write (or :meth:`provision`); a read of a
tenant never provisioned reads the control database's tenant tables, which no
session writes under this strategy: it sees nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

from polyfhir_bus.relay import OutboxRecord
from polyfhir_core.contracts.primary_store import (
    HistoryQuery,
    ResourceVersion,
    TenantPositions,
    TenantRecord,
)
from polyfhir_core.jobs import JobStore
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.database import DeadLetteredRow, HistoryRow, OutboxRow, Session
from polyfhir_primary.adapters.sql.tenancy import registry
from polyfhir_primary.adapters.sql.tenancy.progress import for_each_tenant
from polyfhir_primary.adapters.sql.tenancy.registry import Placement
from polyfhir_primary.adapters.sql.tenancy.tenant_homes import TenantHome
from polyfhir_primary.adapters.sql.tenancy.tenant_outbox import TenantOutboxes
from polyfhir_primary.adapters.sql.tenancy.tenant_pools import TenantDatabase, TenantDatabases

log = logging.getLogger(__name__)
STRATEGY = "database"
T = TypeVar("T")


class DatabasePerTenant:
    """Implements :class:`~polyfhir_primary.adapters.database.Database` over many databases."""

    def __init__(
        self, control: TenantDatabase, home: TenantHome, pools_max: int, sweep: int
    ) -> None:
        self.dialect = control.dialect
        self._control, self._home = control, home
        self.databases: TenantDatabases[TenantDatabase] = TenantDatabases(
            lambda p: home.open(p.location), pools_max
        )
        self._outboxes = TenantOutboxes(control, home.dialect, self.databases, sweep)
        self._placements: dict[str, Placement] = {}
        self._provisioning = asyncio.Lock()

    @property
    def jobs(self) -> JobStore:
        return self._control.jobs

    async def migrate_tenants(self) -> None:
        """Open (and so migrate) every tenant's database, within the pool bound."""
        async with self._control.transaction() as conn:
            placements = await registry.every(conn)

        async def migrate(placement: Placement) -> None:
            async with self.databases.lease(placement):
                pass

        await for_each_tenant("migrated", placements, migrate)
        await self._outboxes.finish_assignments()  # a relay that died mid-numbering

    # -- provisioning and deletion (the tenant lifecycle calls these) ---------------------

    async def _find(self, tenant: TenantId, *, fresh: bool = False) -> Placement | None:
        """The tenant's placement: cached for reads; ``fresh`` asks the registry (a write,
        so a tenant dropped and provisioned again by another process is never written to
        in its old database)."""
        cached = self._placements.get(tenant.value)
        if cached is not None and not fresh:
            return cached
        async with self._control.transaction() as conn:
            found = await registry.find(conn, tenant.value)
        if cached is not None and cached != found:
            self._placements.pop(tenant.value, None)
            await self.databases.evict(cached)
            self._outboxes.forget(cached)
        if found is not None:
            self._placements[tenant.value] = found
        return found

    async def provision(self, tenant: TenantId) -> str:
        """Create the tenant's database (migrated) and register it; its name."""
        return (await self._provision(tenant)).location

    async def _provision(self, tenant: TenantId) -> Placement:
        found = await self._find(tenant, fresh=True)
        if found is not None:
            return found
        async with self._provisioning:
            found = await self._find(tenant, fresh=True)
            if found is not None:
                return found
            location = self._home.location(tenant)
            await self._home.create(location)
            async with self._control.transaction() as conn:
                placement = await registry.add(
                    conn, self._home.dialect, tenant.value, STRATEGY, location
                )
            async with self.databases.lease(placement):  # opening migrates it
                pass
            # first use registers the tenant in the control registry (the lifecycle's)
            await self._control.provision_tenant(tenant, datetime.now(UTC))
            log.info("tenant %s provisioned in database %s", tenant, location)
            self._placements[tenant.value] = placement
            return placement

    async def drop_tenant(self, tenant: TenantId) -> dict[str, int]:
        """Drop the tenant's database (or file); what it held, counted first."""
        counts = {"resources": 0, "resource_versions": 0, "outbox": 0, "database": 0}
        placement = await self._find(tenant)
        if placement is None:
            return counts
        flag = self._home.dialect.flag(False)
        async with self.databases.lease(placement) as db, db.transaction() as conn:
            for key, sql, args in (
                ("resources", "SELECT COUNT(*) FROM resources WHERE deleted = ?", [flag]),
                ("resource_versions", "SELECT COUNT(*) FROM resource_versions", []),
                ("outbox", "SELECT COUNT(*) FROM outbox", []),
            ):
                counts[key] = int((await conn.fetch(sql, args))[0][0])
        await self.databases.evict(placement)
        await self._home.destroy(placement.location)
        counts["database"] = 1
        async with self._control.transaction() as conn:
            await registry.remove(conn, placement)
        self._placements.pop(tenant.value, None)
        self._outboxes.forget(placement)
        log.info("tenant %s dropped: %s", tenant, counts)
        return counts

    # -- the tenant lifecycle (the registry lives in the control database) --------------

    async def provision_tenant(self, tenant: TenantId, now: datetime) -> bool:
        registered = await self._control.provision_tenant(tenant, now)
        await self._provision(tenant)
        return registered

    async def tenant_records(self, under: TenantId) -> list[TenantRecord]:
        """The control registry's records, each with the resources its own database holds."""
        return [await self._counted(r) for r in await self._control.tenant_records(under)]

    async def _counted(self, record: TenantRecord) -> TenantRecord:
        tenant = TenantId(record.tenant)
        placement = await self._find(tenant)
        if placement is None:
            return record
        async with self.databases.lease(placement) as db:  # its database registers it too
            own = await db.tenant_records(tenant)
        held = [r.resources for r in own if r.tenant == record.tenant]
        return replace(record, resources=held[0] if held else 0)

    async def mark_tenant_deleting(self, tenant: TenantId) -> bool:
        return await self._control.mark_tenant_deleting(tenant)

    async def delete_tenant_data(self, tenant: TenantId, batch: int) -> dict[str, int]:
        """The lifecycle's deletion: the tenant's database or file goes at once, then the
        control database's rows of the tenant (registration, jobs) in batches."""
        if await self._find(tenant, fresh=True) is not None:
            return await self.drop_tenant(tenant)
        return await self._control.delete_tenant_data(tenant, batch)

    async def prune_published(self, before: datetime, limit: int) -> int:
        """Published outbox rows older than ``before``, tenant database by tenant database."""
        async with self._control.transaction() as conn:
            placements = await registry.every(conn)
        pruned = 0
        for placement in placements:
            if pruned >= limit:
                break
            async with self.databases.lease(placement) as db:
                pruned += await db.prune_published(before, limit - pruned)
        return pruned

    # -- tenant-bound calls ---------------------------------------------------------------

    @asynccontextmanager
    async def session(self, tenant: TenantId, *, write: bool) -> AsyncIterator[Session]:
        placement = await (self._provision(tenant) if write else self._find(tenant))
        if placement is None:
            async with self._control.session(tenant, write=False) as empty:
                yield empty
            return
        async with self.databases.lease(placement) as db, db.session(tenant, write=write) as s:
            yield s
        if write:
            await self._outboxes.changed(placement)

    async def _read(self, tenant: TenantId, read: Callable[[TenantDatabase], Awaitable[T]]) -> T:
        placement = await self._find(tenant)
        if placement is None:
            return await read(self._control)
        async with self.databases.lease(placement) as db:
            return await read(db)

    async def history(self, tenant: TenantId, query: HistoryQuery) -> list[HistoryRow]:
        return await self._read(tenant, lambda db: db.history(tenant, query))

    async def read_many(
        self, tenant: TenantId, keys: Sequence[ResourceKey]
    ) -> list[StoredResource]:
        return await self._read(tenant, lambda db: db.read_many(tenant, keys))

    async def positions(self, tenant: TenantId) -> TenantPositions:
        return await self._read(tenant, lambda db: db.positions(tenant))

    async def list_versions(
        self,
        tenant: TenantId,
        after: ResourceKey | None,
        limit: int,
        resource_types: Sequence[str] | None,
    ) -> list[ResourceVersion]:
        return await self._read(
            tenant, lambda db: db.list_versions(tenant, after, limit, resource_types)
        )

    async def tenants(self) -> list[str]:
        async with self._control.transaction() as conn:
            return [p.tenant for p in await registry.every(conn)]

    # -- the outbox relay and freshness (every tenant) ----------------------------------

    async def outbox_backlog(self) -> int:
        return await self._outboxes.backlog()

    async def pending_outbox(self, limit: int) -> list[OutboxRow]:
        return await self._outboxes.pending(limit)

    async def mark_published(self, seqs: Sequence[int]) -> None:
        await self._outboxes.mark_published(seqs)

    async def outbox_unpositioned(self, limit: int) -> list[OutboxRecord]:
        return await self._outboxes.unpositioned(limit)

    async def outbox_positioned(self, limit: int) -> list[OutboxRecord]:
        return await self._outboxes.positioned(limit)

    async def assign_positions(self, partitions: Mapping[int, int]) -> dict[int, int]:
        return await self._outboxes.assign(partitions)

    async def mark_dead_lettered(self, reasons: Mapping[int, str]) -> None:
        await self._outboxes.mark_dead_lettered(reasons)

    async def dead_lettered_outbox(self, limit: int) -> list[DeadLetteredRow]:
        return await self._outboxes.dead_lettered(limit)

    async def retry_dead_lettered(self, seqs: Sequence[int] | None) -> int:
        return await self._outboxes.retry_dead_lettered(seqs)

    async def claim_relay(self, wake: Callable[[], None]) -> bool:
        return await self._outboxes.claim(wake)

    async def release_relay(self) -> None:
        await self._outboxes.release()

    async def stream_positions(self) -> TenantPositions:
        counters = await self._control.stream_positions()
        return TenantPositions(counters.partitions, await self._outboxes.backlog())

    async def check(self) -> None:
        await self._control.check()

    async def close(self) -> None:
        await self._outboxes.release()
        await self.databases.close()
        await self._control.close()
