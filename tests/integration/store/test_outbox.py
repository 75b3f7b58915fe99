"""Every committed version leaves exactly one complete outbox row, in commit order;
nothing from a rolled-back transaction ever appears."""

from __future__ import annotations

import pytest

from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.errors import FhirError
from polyfhir_core.tenancy import TenantContext

pytestmark = pytest.mark.integration


async def _events(store_app, tenant: str) -> list[tuple[int, ResourceChanged]]:  # type: ignore[no-untyped-def]
    rows = await store_app.database.pending_outbox(100_000)
    return [(r.seq, ResourceChanged.from_json(r.payload)) for r in rows if r.tenant == tenant]


async def test_outbox_rows_follow_every_version(store_app, tenant: str) -> None:  # type: ignore[no-untyped-def]
    ctx = TenantContext.of(tenant)
    service = store_app.service
    body = {"resourceType": "Patient", "id": "o1"}
    await service.process(
        ctx, BundleKind.TRANSACTION, [EntryRequest(Method.PUT, "Patient/o1", body)]
    )
    await service.process(
        ctx,
        BundleKind.TRANSACTION,
        [EntryRequest(Method.PUT, "Patient/o1", {**body, "gender": "male"})],
    )
    await service.process(ctx, BundleKind.TRANSACTION, [EntryRequest(Method.DELETE, "Patient/o1")])
    bad = [
        EntryRequest(Method.POST, "Patient", {"resourceType": "Patient"}),
        EntryRequest(Method.POST, "Patient", {"resourceType": "Patient", "x": 1}),
    ]
    with pytest.raises(FhirError):
        await service.process(ctx, BundleKind.TRANSACTION, bad)
    events = await _events(store_app, tenant)
    seqs = [seq for seq, _ in events]
    assert seqs == sorted(seqs)
    summary = [(e.resource_type, e.resource_id, e.version, e.kind) for _, e in events]
    assert summary == [
        ("Patient", "o1", 1, ChangeKind.CREATED),
        ("Patient", "o1", 2, ChangeKind.UPDATED),
        ("Patient", "o1", 3, ChangeKind.DELETED),
    ]
    created, updated, deleted = (e for _, e in events)
    assert created.resource is not None and created.resource["meta"]["versionId"] == "1"
    assert updated.resource is not None and updated.resource["gender"] == "male"
    assert deleted.resource is None
    assert created.key == f"{tenant}|Patient|o1"


async def test_mark_published_removes_rows_from_the_backlog(store_app, tenant: str) -> None:  # type: ignore[no-untyped-def]
    ctx = TenantContext.of(tenant)
    await store_app.service.process(
        ctx,
        BundleKind.TRANSACTION,
        [EntryRequest(Method.POST, "Patient", {"resourceType": "Patient"})],
    )
    mine = [seq for seq, _ in await _events(store_app, tenant)]
    assert len(mine) == 1
    await store_app.database.mark_published(mine)
    assert await _events(store_app, tenant) == []
