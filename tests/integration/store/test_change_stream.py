"""The store's side of the change stream (positions, list_versions, republish), over
the in-process service and the HTTP client alike, on both backends."""

from __future__ import annotations

import pytest

from conftest import Server
from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_core.contracts.primary_store import (
    BundleKind,
    EntryRequest,
    Method,
    PrimaryStore,
    ResourceVersion,
)
from polyfhir_core.errors import BadRequest, Forbidden
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext, TenantPermissions
from polyfhir_primary.bootstrap import PrimaryStoreApp

pytestmark = pytest.mark.integration


def _put(rtype: str, rid: str, **fields: object) -> EntryRequest:
    return EntryRequest(Method.PUT, f"{rtype}/{rid}", {"resourceType": rtype, "id": rid, **fields})


async def _history(store: PrimaryStore, ctx: TenantContext) -> None:
    """Patient a (2 versions), b (deleted), c; Observation x: six committed changes."""
    observation = _put("Observation", "x", status="final", code={"text": "t"})
    entries = [_put("Patient", "a"), _put("Patient", "b"), _put("Patient", "c"), observation]
    await store.process(ctx, BundleKind.TRANSACTION, entries)
    await store.process(ctx, BundleKind.TRANSACTION, [EntryRequest(Method.DELETE, "Patient/b")])
    await store.process(ctx, BundleKind.TRANSACTION, [_put("Patient", "a", active=True)])


async def test_list_versions_pages_in_type_and_id_order_with_deleted_ones(
    server: Server, tenant: str
) -> None:
    ctx = TenantContext.of(tenant)
    await _history(server.store, ctx)
    first = await server.store.list_versions(ctx, None, 2)
    assert first == [ResourceVersion("Observation", "x", 1), ResourceVersion("Patient", "a", 2)]
    second = await server.store.list_versions(ctx, first[-1].key, 2)
    assert second == [
        ResourceVersion("Patient", "b", 2, deleted=True),
        ResourceVersion("Patient", "c", 1),
    ]
    assert await server.store.list_versions(ctx, second[-1].key, 2) == []
    assert await server.store.list_versions(TenantContext.of(tenant + "x"), None, 10) == []
    patients_only = TenantContext.of(
        tenant, TenantPermissions(resource_types=frozenset({"Patient"}))
    )
    assert [v.id for v in await server.store.list_versions(patients_only, None, 10)] == [
        "a",
        "b",
        "c",
    ]
    with pytest.raises(BadRequest):
        await server.store.list_versions(ctx, None, 0)


async def test_positions_count_unpublished_changes_and_republish_queues_more(
    server: Server, tenant: str
) -> None:
    ctx = TenantContext.of(tenant)
    assert (await server.store.positions(ctx)).pending == 0
    await _history(server.store, ctx)
    before = await server.store.positions(ctx)
    assert before.pending == 6  # no relay runs in these servers: nothing is published
    assert before.partitions == {}
    keys = [ResourceKey("Patient", "a"), ResourceKey("Patient", "b"), ResourceKey("Patient", "zz")]
    assert await server.store.republish(ctx, keys) == 2  # zz never existed
    assert (await server.store.positions(ctx)).pending == 8
    reader = TenantContext.of(tenant, TenantPermissions.read_only())
    with pytest.raises(Forbidden):
        await server.store.republish(reader, keys)
    assert (await server.store.positions(reader)).pending == 8


async def test_republish_queues_the_current_version_and_a_tombstone_for_a_delete(
    store_app: PrimaryStoreApp, tenant: str
) -> None:
    ctx = TenantContext.of(tenant)
    await _history(store_app.service, ctx)
    keys = [ResourceKey("Patient", "b"), ResourceKey("Patient", "a")]
    assert await store_app.service.republish(ctx, keys) == 2
    rows = [r for r in await store_app.database.pending_outbox(100_000) if r.tenant == tenant]
    republished = [ResourceChanged.from_json(r.payload) for r in rows[-2:]]
    tombstone, current = republished
    assert (tombstone.resource_id, tombstone.version, tombstone.kind) == (
        "b",
        2,
        ChangeKind.DELETED,
    )
    assert tombstone.resource is None
    assert (current.resource_id, current.version, current.kind) == ("a", 2, ChangeKind.UPDATED)
    assert current.resource is not None and current.resource["active"] is True


async def test_rows_published_before_positions_existed_are_not_a_position(
    store_app: PrimaryStoreApp, tenant: str
) -> None:
    """Rows marked published without a position (written before migration 0004) count as
    published, and the tenant's positions come only from rows that have one."""
    ctx = TenantContext.of(tenant)
    await _history(store_app.service, ctx)
    mine = [r.seq for r in await store_app.database.pending_outbox(100_000) if r.tenant == tenant]
    await store_app.database.mark_published(mine)
    positions = await store_app.service.positions(ctx)
    assert (positions.partitions, positions.pending) == ({}, 0)


async def test_tenants_lists_every_tenant_holding_resources_once(
    server: Server, tenant: str
) -> None:
    children = [f"{tenant}/b", f"{tenant}/a", tenant]
    for name in children:
        await _history(server.store, TenantContext.of(name))
    found = await server.store.tenants(TenantContext.of(tenant))
    assert [t for t in found if t == tenant or t.startswith(tenant + "/")] == sorted(children)
    assert found == sorted(set(found))
    with pytest.raises(Forbidden):  # cross-tenant administration
        await server.store.tenants(TenantContext.of(tenant, TenantPermissions.read_only()))


async def test_type_generation_moves_with_every_write_of_its_types_only(
    server: Server, tenant: str
) -> None:
    """What the in-process terminology index compares before pulling definitions."""
    ctx = TenantContext.of(tenant)
    watched = ["CodeSystem", "ConceptMap", "ValueSet"]
    empty = await server.store.type_generation(ctx, watched)
    assert (empty.versions, empty.last_seq) == (0, 0)
    codesystem = _put("CodeSystem", "cs", status="active", content="complete", url="urn:x:cs")
    await server.store.process(ctx, BundleKind.TRANSACTION, [codesystem])
    created = await server.store.type_generation(ctx, watched)
    assert created.versions == 1
    assert created.last_seq > 0
    await server.store.process(ctx, BundleKind.TRANSACTION, [_put("Patient", "p")])
    assert await server.store.type_generation(ctx, watched) == created
    other_tenant = TenantContext.of(tenant + "x")
    await server.store.process(other_tenant, BundleKind.TRANSACTION, [codesystem])
    assert await server.store.type_generation(ctx, watched) == created
    await server.store.process(
        ctx, BundleKind.TRANSACTION, [EntryRequest(Method.DELETE, "CodeSystem/cs")]
    )
    deleted = await server.store.type_generation(ctx, watched)
    assert deleted.versions == 2
    assert deleted.last_seq > created.last_seq
    valueset = _put("ValueSet", "vs", status="active", url="urn:x:vs")
    await server.store.process(ctx, BundleKind.TRANSACTION, [valueset])
    assert (await server.store.type_generation(ctx, watched)).versions == 3
    assert (await server.store.type_generation(ctx, ["ValueSet"])).versions == 1
    with pytest.raises(BadRequest):
        await server.store.type_generation(ctx, ["NotAType"])
    patients_only = TenantContext.of(
        tenant, TenantPermissions(resource_types=frozenset({"Patient"}))
    )
    with pytest.raises(Forbidden):
        await server.store.type_generation(patients_only, watched)
