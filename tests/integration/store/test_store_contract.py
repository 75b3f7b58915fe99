"""The PrimaryStore contract, over the in-process service and the HTTP client alike."""

from __future__ import annotations

import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
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
