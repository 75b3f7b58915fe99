"""The tenant lifecycle in the store's service layer (over the in-memory store): the
first write registers a tenant, deletion runs until nothing is left, administration
needs the admin (reindex) permission."""

from __future__ import annotations

import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.errors import BadRequest, Forbidden, NotFound
from polyfhir_core.tenancy import TenantContext, TenantPermissions
from polyfhir_primary.service_layer.store_service import StoreService


async def _write(service: StoreService, ctx: TenantContext, *ids: str) -> None:
    entries = [
        EntryRequest(Method.PUT, f"Patient/{rid}", {"resourceType": "Patient", "id": rid})
        for rid in ids
    ]
    await service.process(ctx, BundleKind.TRANSACTION, entries)


async def test_the_first_write_registers_the_tenant(
    service: StoreService, ctx: TenantContext
) -> None:
    with pytest.raises(NotFound):
        await service.get_tenant(ctx)
    await _write(service, ctx, "p1", "p2")
    record = await service.get_tenant(ctx)
    assert (record.tenant, record.state, record.resources) == ("acme", "active", 2)
    again = await service.provision_tenant(ctx)
    assert not again.provisioned_now


async def test_deletion_in_batches_until_empty_then_provisioned_again_empty(
    service: StoreService, ctx: TenantContext
) -> None:
    other = TenantContext.of("globex")
    await _write(service, ctx, "p1", "p2", "p3")
    await _write(service, other, "p1")
    assert (await service.start_tenant_deletion(ctx)).state == "deleting"
    batches = []
    while removed := await service.delete_tenant_data(ctx, 2):
        batches.append(removed)
    assert batches[:2] == [{"resources": 2}, {"resources": 1}]
    assert batches[-1] == {"tenants": 1}
    with pytest.raises(NotFound):
        await service.get_tenant(ctx)
    created = await service.provision_tenant(ctx)
    assert created.provisioned_now and created.resources == 0
    assert (await service.get_tenant(other)).resources == 1


async def test_a_child_is_listed_under_its_parent(
    service: StoreService, ctx: TenantContext
) -> None:
    await service.provision_tenant(ctx)
    await service.provision_tenant(TenantContext.of("acme/research"))
    await service.provision_tenant(TenantContext.of("acmeco"))
    assert [r.tenant for r in await service.list_tenants(ctx)] == ["acme", "acme/research"]


async def test_administration_needs_the_admin_permission(service: StoreService) -> None:
    reader = TenantContext.of("acme", TenantPermissions.read_only())
    for call in (
        service.provision_tenant(reader),
        service.list_tenants(reader),
        service.start_tenant_deletion(reader),
        service.delete_tenant_data(reader, 10),
    ):
        with pytest.raises(Forbidden):
            await call


async def test_a_deletion_batch_is_bounded(service: StoreService, ctx: TenantContext) -> None:
    with pytest.raises(BadRequest):
        await service.delete_tenant_data(ctx, 0)
