"""The store's side of the change stream: positions, version listing and republish.

Secondaries (and the gateway on their behalf) ask where a tenant stands in the
stream (:func:`positions`); the reconciler compares the primary's current
versions (:func:`list_versions`) with an index and asks for the ones that
differ to be published again (:func:`republish`). A reader that derives something
from a few types (the in-process terminology index) asks whether any of them was
written since it last looked (:func:`type_generation`).
"""

from __future__ import annotations

from collections.abc import Sequence

from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_core.contracts.primary_store import (
    ResourceVersion,
    TenantPositions,
    TypeGeneration,
)
from polyfhir_core.errors import BadRequest
from polyfhir_core.resource_validation import is_resource_type
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.tenancy import Operation, TenantContext
from polyfhir_primary.adapters.database import Database

MAX_LIST = 10_000
MAX_REPUBLISH = 10_000
MAX_GENERATION_TYPES = 20


async def positions(db: Database, ctx: TenantContext) -> TenantPositions:
    ctx.permissions.require(Operation.SEARCH)
    return await db.positions(ctx.tenant)


async def type_generation(
    db: Database, ctx: TenantContext, resource_types: Sequence[str]
) -> TypeGeneration:
    """One statement over the version index of ``resource_types`` (each needs read)."""
    if not 1 <= len(resource_types) <= MAX_GENERATION_TYPES:
        raise BadRequest(f"type_generation: between 1 and {MAX_GENERATION_TYPES} types")
    for resource_type in resource_types:
        if not is_resource_type(resource_type):
            raise BadRequest(f"unknown resource type {resource_type!r}")
        ctx.permissions.require(Operation.READ, resource_type)
    async with db.session(ctx.tenant, write=False) as session:
        versions, last_seq = await session.type_generation(*resource_types)
    return TypeGeneration(versions, last_seq)


async def list_versions(
    db: Database, ctx: TenantContext, after: ResourceKey | None, limit: int
) -> list[ResourceVersion]:
    """Reading versions needs read permission; a caller limited to some types sees those."""
    ctx.permissions.require(Operation.READ)
    if not 1 <= limit <= MAX_LIST:
        raise BadRequest(f"list_versions: limit must be between 1 and {MAX_LIST}")
    types = ctx.permissions.resource_types
    return await db.list_versions(ctx.tenant, after, limit, sorted(types) if types else None)


async def tenants(db: Database, ctx: TenantContext) -> list[str]:
    """Cross-tenant administration (an automatic repair walks every tenant)."""
    ctx.permissions.require(Operation.REINDEX)
    return await db.tenants()


async def stream_positions(db: Database, ctx: TenantContext) -> TenantPositions:
    """Where the whole stream stands (administration: positions of every tenant)."""
    ctx.permissions.require(Operation.REINDEX)
    return await db.stream_positions()


def _event(stored: StoredResource) -> ResourceChanged:
    if stored.deleted:
        kind = ChangeKind.DELETED
    else:
        kind = ChangeKind.CREATED if stored.version == 1 else ChangeKind.UPDATED
    return ResourceChanged(
        tenant=stored.tenant.value,
        resource_type=stored.resource_type,
        resource_id=stored.id,
        version=stored.version,
        kind=kind,
        last_updated=stored.last_updated,
        resource=None if stored.deleted else stored.content,
    )


async def republish(db: Database, ctx: TenantContext, keys: Sequence[ResourceKey]) -> int:
    """Queue the current version of each known key again (a tombstone for a deleted one).

    Administration (it rewrites secondaries), so it needs the reindex permission.
    Keys the primary never had are skipped: the reconciler removes those itself.
    """
    ctx.permissions.require(Operation.REINDEX)
    for rtype in {k.resource_type for k in keys}:
        ctx.permissions.require(Operation.READ, rtype)
    if len(keys) > MAX_REPUBLISH:
        raise BadRequest(f"republish: at most {MAX_REPUBLISH} keys per call")
    queued = 0
    async with db.session(ctx.tenant, write=True) as session:
        for key in dict.fromkeys(keys):
            stored = await session.current(key.resource_type, key.id)
            if stored is not None:
                await session.enqueue(_event(stored))
                queued += 1
    return queued
