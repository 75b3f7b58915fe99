"""The PrimaryStore contract, over the in-process service and the HTTP client alike."""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_core.contracts.primary_store import (
    BundleKind,
    EntryRequest,
    EntryResponse,
    Method,
    PrimaryStore,
    ResourceVersion,
)
from polyfhir_core.errors import Gone, InvalidResource, NotFound
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext, TenantPermissions

pytestmark = pytest.mark.integration


def _create(rtype: str, rid: str) -> EntryRequest:
    return EntryRequest(Method.PUT, f"{rtype}/{rid}", {"resourceType": rtype, "id": rid})


async def test_read_many_returns_existing_in_order(server, tenant: str) -> None:  # type: ignore[no-untyped-def]
    ctx = TenantContext.of(tenant)
    entries = [_create("Patient", "p1"), _create("Patient", "p2"), _create("Practitioner", "d1")]
    await server.store.process(ctx, BundleKind.TRANSACTION, entries)
    await server.store.process(
        ctx, BundleKind.TRANSACTION, [EntryRequest(Method.DELETE, "Patient/p2")]
    )
    keys = [
        ResourceKey("Practitioner", "d1"),
        ResourceKey("Patient", "missing"),
        ResourceKey("Patient", "p2"),
        ResourceKey("Patient", "p1"),
    ]
    found = await server.store.read_many(ctx, keys)
    assert [str(s.key) for s in found] == ["Practitioner/d1", "Patient/p1"]
    other = await server.store.read_many(TenantContext.of(tenant + "x"), keys)
    assert other == []


async def test_errors_cross_the_wire_as_the_same_types(server, tenant: str) -> None:  # type: ignore[no-untyped-def]
    ctx = TenantContext.of(tenant)
    with pytest.raises(NotFound):
        await server.store.read(ctx, "Patient", "nobody")
    await server.store.process(ctx, BundleKind.TRANSACTION, [_create("Patient", "gone")])
    await server.store.process(
        ctx, BundleKind.TRANSACTION, [EntryRequest(Method.DELETE, "Patient/gone")]
    )
    with pytest.raises(Gone):
        await server.store.read(ctx, "Patient", "gone")
    bad = EntryRequest(Method.POST, "Patient", {"resourceType": "Patient", "active": "yes"})
    with pytest.raises(InvalidResource):
        await server.store.process(ctx, BundleKind.TRANSACTION, [bad])


async def test_permissions_are_enforced_by_the_store(server, tenant: str) -> None:  # type: ignore[no-untyped-def]
    reader = TenantContext.of(tenant, TenantPermissions.read_only())
    [response] = await server.store.process(reader, BundleKind.BATCH, [_create("Patient", "p")])
    assert response.status == 403
    limited = TenantContext.of(tenant, TenantPermissions(resource_types=frozenset({"Observation"})))
    [response] = await server.store.process(limited, BundleKind.BATCH, [_create("Patient", "p")])
    assert response.status == 403


async def test_every_entry_that_wrote_says_which_version(server: Any, tenant: str) -> None:
    ctx = TenantContext.of(tenant)
    store: PrimaryStore = server.store

    async def one(entry: EntryRequest) -> EntryResponse:
        [response] = await store.process(ctx, BundleKind.TRANSACTION, [entry])
        return response

    assert (await one(_create("Patient", "w"))).written == ResourceVersion("Patient", "w", 1)
    posted = await one(EntryRequest(Method.POST, "Patient", {"resourceType": "Patient"}))
    assert posted.written is not None and posted.written.version == 1
    assert posted.location == f"Patient/{posted.written.id}/_history/1"
    exists = EntryRequest(
        Method.POST, "Patient", {"resourceType": "Patient"}, if_none_exist="_id=w"
    )
    matched = await one(exists)  # matches Patient/w: nothing written
    assert (matched.status, matched.written) == (200, None)
    assert (await one(EntryRequest(Method.GET, "Patient/w"))).written is None
    assert (await one(_create("Patient", "w"))).written == ResourceVersion("Patient", "w", 2)
    deleted = await one(EntryRequest(Method.DELETE, "Patient/w"))
    assert deleted.written == ResourceVersion("Patient", "w", 3, deleted=True)
    assert (await one(EntryRequest(Method.DELETE, "Patient/never"))).written is None
    await one(_create("Patient", "c"))
    by_query = await one(EntryRequest(Method.DELETE, "Patient?_id=c"))
    assert by_query.written == ResourceVersion("Patient", "c", 2, deleted=True)
