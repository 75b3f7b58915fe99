"""Schema per tenant (PostgreSQL): each tenant's tables in a schema of its own.

The operator's DSN names one database; its default schema is the *control*
schema: migrated like any other, it holds what every tenant shares — the outbox
and ``relay_positions`` (one relay, one position counter, unchanged), the jobs,
and ``tenant_placements`` (which schema is whose). Each tenant's schema
(``t_<id>_<hash>``, :mod:`.naming`) holds the whole table set, migrated by the
same migration list with its own ledger; its ``outbox`` forwards every row into
the control schema's outbox with a ``BEFORE INSERT`` trigger, so a write stays one
atomic transaction in one database and the relay reads one outbox.

A session binds the tenant's schema with ``set_config('search_path', …, true)``
(``SET LOCAL``: the binding ends with the transaction, so a pooled connection never
carries it to another tenant); every tenant-bound call therefore runs in a
transaction, reads included (read-only). The tenant column stays in every table
and every statement: the schema is a second wall, not the only one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

from polyfhir_core.contracts.primary_store import HistoryQuery, ResourceVersion, TenantRecord
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.database import HistoryRow, TransientConflict
from polyfhir_primary.adapters.sql import outbox
from polyfhir_primary.adapters.sql.dialects.postgres import POSTGRES
from polyfhir_primary.adapters.sql.pg_scope import APP_ROLE, system_transaction
from polyfhir_primary.adapters.sql.postgres import PgConn, PostgresDatabase
from polyfhir_primary.adapters.sql.postgres_migrations import apply_migrations
from polyfhir_primary.adapters.sql.session import (
    SqlSession,
    fetch_history,
    fetch_many,
    running_session,
)
from polyfhir_primary.adapters.sql.tenancy import registry
from polyfhir_primary.adapters.sql.tenancy.naming import quoted, schema_name
from polyfhir_primary.adapters.sql.tenancy.progress import for_each_tenant
from polyfhir_primary.adapters.sql.tenancy.schema_statistics import SchemaStatistics

log = logging.getLogger(__name__)
STRATEGY = "schema"
_SCHEMA_MIGRATION_LOCK = 7_312_004_217
_BIND = (  # the schema, then row-level security's role and tenant (pg_scope.py)
    "SELECT set_config('search_path', $1, true),"
    f" set_config('role', '{APP_ROLE}', true), set_config('polyfhir.tenant', $3, true),"
    " EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $2)"
)

_FORWARDING = (
    "SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND c.relname = 'outbox' AND t.tgname = 'outbox_forward')"
)


def _forward_outbox(schema: str, control: str) -> str:
    """The trigger that moves the tenant schema's outbox rows into the control schema's."""
    s, c = quoted(schema), quoted(control)
    return f"""
CREATE OR REPLACE FUNCTION {s}.polyfhir_forward_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {c}.outbox (tenant, res_type, res_id, version, payload, created_at)
    VALUES (NEW.tenant, NEW.res_type, NEW.res_id, NEW.version, NEW.payload, NEW.created_at);
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS outbox_notify ON {s}.outbox;
DROP TRIGGER IF EXISTS outbox_forward ON {s}.outbox;
CREATE TRIGGER outbox_forward BEFORE INSERT ON {s}.outbox
    FOR EACH ROW EXECUTE FUNCTION {s}.polyfhir_forward_outbox();
"""


class SchemaPerTenantDatabase(PostgresDatabase):
    """:class:`PostgresDatabase` with every tenant-bound call in the tenant's schema."""

    def __init__(
        self, dsn: str, min_size: int = 2, max_size: int = 10, random_page_cost: float = 1.1
    ) -> None:
        super().__init__(dsn, min_size, max_size, random_page_cost)
        self._control = "public"
        self._schemas: dict[str, str] = {}  # provisioned tenants seen by this process
        self._growth: dict[str, SchemaStatistics] = {}  # per schema written to
        self._provisioning = asyncio.Lock()

    async def open(self) -> None:
        await super().open()  # the control schema's migrations
        async with self.pool.acquire() as raw:
            self._control = str(await raw.fetchval("SELECT current_schema()"))
            placements = await registry.every(PgConn(raw))
        await for_each_tenant("migrated", [p.location for p in placements], self._migrate_schema)

    async def _migrate_schema(self, schema: str) -> None:
        """Create ``schema`` if needed and apply the migrations it lacks (idempotent)."""
        path = f"{quoted(schema)}, {quoted(self._control)}"
        async with self.pool.acquire() as raw:
            await raw.execute("SELECT pg_advisory_lock($1)", _SCHEMA_MIGRATION_LOCK)
            try:
                await raw.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(schema)}")
                # the same runner as the control schema's (transactional or not, in the
                # system scope), with the tenant's schema first for this connection
                await raw.execute("SELECT set_config('search_path', $1, false)", path)
                try:
                    pending = await apply_migrations(raw)
                finally:
                    await raw.execute("RESET search_path")
                if pending or not await raw.fetchval(_FORWARDING, schema):
                    async with raw.transaction():  # DDL on the outbox: only when needed
                        await raw.execute(_forward_outbox(schema, self._control))
            finally:
                await raw.execute("SELECT pg_advisory_unlock($1)", _SCHEMA_MIGRATION_LOCK)

    # -- provisioning and deletion (the tenant lifecycle calls these) ---------------------

    async def provision(self, tenant: TenantId) -> str:
        """Make the tenant's schema exist, migrated, and registered; its name."""
        known = self._schemas.get(tenant.value)
        if known is not None:
            return known
        async with self._provisioning:
            async with self.pool.acquire() as raw:
                placement = await registry.find(PgConn(raw), tenant.value)
            schema = placement.location if placement else schema_name(tenant)
            await self._migrate_schema(schema)
            if placement is None:
                async with self.pool.acquire() as raw, raw.transaction():
                    await registry.add(PgConn(raw), POSTGRES, tenant.value, STRATEGY, schema)
                log.info("tenant %s provisioned in schema %s", tenant, schema)
                # first use registers the tenant in the control registry (the lifecycle's)
                await super().provision_tenant(tenant, datetime.now(UTC))
            self._schemas[tenant.value] = schema
            return schema

    async def drop_tenant(self, tenant: TenantId) -> dict[str, int]:
        """Drop the tenant's schema and its outbox rows; what there was, counted first."""
        self._schemas.pop(tenant.value, None)
        growth = self._growth.pop(schema_name(tenant), None)
        if growth is not None:
            await growth.close()
        async with system_transaction(self.pool) as raw:  # counts and outbox rows: RLS
            conn = PgConn(raw)
            placement = await registry.find(conn, tenant.value)
            counts = {"resources": 0, "resource_versions": 0, "schema": 0}
            if placement is not None:
                s = quoted(placement.location)
                counts["resources"] = int(
                    await raw.fetchval(f"SELECT COUNT(*) FROM {s}.resources WHERE NOT deleted")
                )
                counts["resource_versions"] = int(
                    await raw.fetchval(f"SELECT COUNT(*) FROM {s}.resource_versions")
                )
                await raw.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
                counts["schema"] = 1
                await registry.remove(conn, placement)
            deleted = await conn.execute("DELETE FROM outbox WHERE tenant = ?", [tenant.value])
            counts["outbox"] = deleted
        log.info("tenant %s dropped: %s", tenant, counts)
        return counts

    async def provision_tenant(self, tenant: TenantId, now: datetime) -> bool:
        registered = await super().provision_tenant(tenant, now)
        await self.provision(tenant)
        return registered

    async def delete_tenant_data(self, tenant: TenantId, batch: int) -> dict[str, int]:
        """The lifecycle's deletion: the schema goes at once (DROP SCHEMA), then the
        control schema's rows of the tenant (registration, jobs) in batches."""
        async with self.pool.acquire() as raw:
            placed = await registry.find(PgConn(raw), tenant.value)
        if placed is not None:
            return await self.drop_tenant(tenant)
        return await super().delete_tenant_data(tenant, batch)

    async def tenant_records(self, under: TenantId) -> list[TenantRecord]:
        """The registry's records, each with the resources its own schema holds."""
        records = await super().tenant_records(under)
        async with self.pool.acquire() as raw:
            placements = {p.tenant: p.location for p in await registry.every(PgConn(raw))}
        counted = []
        for record in records:
            if record.tenant not in placements:
                counted.append(record)
                continue
            async with self._bound(TenantId(record.tenant), write=False) as conn:
                rows = await conn.fetch(
                    "SELECT COUNT(*) FROM resources WHERE NOT deleted AND tenant = ?",
                    [record.tenant],
                )
            counted.append(replace(record, resources=int(rows[0][0])))
        return counted

    # -- tenant-bound calls ---------------------------------------------------------------

    @asynccontextmanager
    async def _bound(self, tenant: TenantId, *, write: bool) -> AsyncIterator[PgConn]:
        """A transaction whose ``search_path`` is the tenant's schema, then the control
        schema. A tenant never provisioned reads the control schema's tenant tables,
        which no session writes under this strategy: it sees nothing."""
        schema = await self.provision(tenant) if write else schema_name(tenant)
        schema = self._schemas.get(tenant.value, schema)
        async with self.pool.acquire() as raw, raw.transaction(readonly=not write):
            path = f"{quoted(schema)}, {quoted(self._control)}"
            row = await raw.fetchrow(_BIND, path, schema, tenant.value)
            if write and not (row is not None and row[3]):
                self._schemas.pop(tenant.value, None)  # dropped by another process
                raise TransientConflict(f"the schema of tenant {tenant} is gone")
            yield PgConn(raw)

    @asynccontextmanager
    async def session(self, tenant: TenantId, *, write: bool) -> AsyncIterator[SqlSession]:
        async with (
            self._bound(tenant, write=write) as conn,
            running_session(conn, POSTGRES, tenant) as session,
        ):
            yield session
        schema = self._schemas.get(tenant.value)
        if session.saved and schema is not None:
            growth = self._growth.get(schema)
            if growth is None:
                path = f"{quoted(schema)}, {quoted(self._control)}"
                growth = self._growth[schema] = SchemaStatistics(self.pool, path)
            growth.wrote(session.saved)

    async def history(self, tenant: TenantId, query: HistoryQuery) -> list[HistoryRow]:
        async with self._bound(tenant, write=False) as conn:
            return await fetch_history(conn, POSTGRES, tenant, query)

    async def read_many(
        self, tenant: TenantId, keys: Sequence[ResourceKey]
    ) -> list[StoredResource]:
        async with self._bound(tenant, write=False) as conn:
            return await fetch_many(conn, POSTGRES, tenant, keys)

    async def list_versions(
        self,
        tenant: TenantId,
        after: ResourceKey | None,
        limit: int,
        resource_types: Sequence[str] | None,
    ) -> list[ResourceVersion]:
        async with self._bound(tenant, write=False) as conn:
            return await outbox.list_versions(conn, POSTGRES, tenant, after, limit, resource_types)

    async def close(self) -> None:
        for growth in self._growth.values():
            await growth.close()
        await super().close()

    async def tenants(self) -> list[str]:
        """Every provisioned tenant (the registry), in id order."""
        async with self.pool.acquire() as raw:
            return [p.tenant for p in await registry.every(PgConn(raw))]
