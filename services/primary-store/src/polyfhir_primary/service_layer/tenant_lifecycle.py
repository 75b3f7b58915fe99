"""The tenant lifecycle as the store serves it (docs/tenancy.md "Lifecycle").

Administration: every call needs the reindex permission (the admin scope) in the
managed tenant's context; which tenants a caller may manage (its own and those
below it) the gateway decides before it builds that context.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from polyfhir_core.contracts.primary_store import TenantRecord
from polyfhir_core.errors import BadRequest, NotFound
from polyfhir_core.tenancy import Operation, TenantContext
from polyfhir_primary.adapters.database import Database

MAX_DELETE_BATCH = 50_000


async def _record(db: Database, ctx: TenantContext) -> TenantRecord:
    for record in await db.tenant_records(ctx.tenant):
        if record.tenant == ctx.tenant.value:
            return record
    raise NotFound(f"no tenant {ctx.tenant.value!r} is registered")


async def provision(db: Database, ctx: TenantContext, now: datetime) -> TenantRecord:
    ctx.permissions.require(Operation.REINDEX)
    created = await db.provision_tenant(ctx.tenant, now)
    return replace(await _record(db, ctx), provisioned_now=created)


async def describe(db: Database, ctx: TenantContext) -> TenantRecord:
    ctx.permissions.require(Operation.REINDEX)
    return await _record(db, ctx)


async def list_below(db: Database, ctx: TenantContext) -> list[TenantRecord]:
    ctx.permissions.require(Operation.REINDEX)
    return await db.tenant_records(ctx.tenant)


async def start_deletion(db: Database, ctx: TenantContext) -> TenantRecord:
    ctx.permissions.require(Operation.REINDEX)
    if not await db.mark_tenant_deleting(ctx.tenant):
        raise NotFound(f"no tenant {ctx.tenant.value!r} is registered")
    return await _record(db, ctx)


async def delete_batch(db: Database, ctx: TenantContext, batch: int) -> dict[str, int]:
    ctx.permissions.require(Operation.REINDEX)
    if not 1 <= batch <= MAX_DELETE_BATCH:
        raise BadRequest(f"batch must be from 1 to {MAX_DELETE_BATCH}")
    return await db.delete_tenant_data(ctx.tenant, batch)
