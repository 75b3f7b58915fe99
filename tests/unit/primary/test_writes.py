"""Writes through the store service: versions, If-Match, deletes, conditional create."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.primary_store import FakeDatabase
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, EntryResponse, Method
from polyfhir_core.errors import Conflict, Gone, PreconditionFailed
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.service_layer.store_service import StoreService

MRN = "http://hospital/mrn"


def patient(family: str, mrn: str | None = None, rid: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Patient", "name": [{"family": family}]}
    if mrn is not None:
        body["identifier"] = [{"system": MRN, "value": mrn}]
    if rid is not None:
        body["id"] = rid
    return body


async def one(service: StoreService, ctx: TenantContext, entry: EntryRequest) -> EntryResponse:
    (response,) = await service.process(ctx, BundleKind.TRANSACTION, [entry])
    return response


async def test_create_then_updates_make_versions(
    service: StoreService, ctx: TenantContext, db: FakeDatabase
) -> None:
    created = await one(service, ctx, EntryRequest(Method.POST, "Patient", patient("Ann")))
    assert (created.status, created.location, created.etag) == (
        201,
        "Patient/id1/_history/1",
        'W/"1"',
    )
    updated = await one(
        service, ctx, EntryRequest(Method.PUT, "Patient/id1", patient("Anne", rid="id1"))
    )
    assert (updated.status, updated.etag) == (200, 'W/"2"')
    current = await service.read(ctx, "Patient", "id1")
    assert current.content is not None and current.content["name"] == [{"family": "Anne"}]
    assert current.content["meta"]["versionId"] == "2"
    first = await service.vread(ctx, "Patient", "id1", 1)
    assert first.content is not None and first.content["name"] == [{"family": "Ann"}]
    assert [o.event.kind.value for o in db.state.outbox] == ["created", "updated"]


async def test_update_of_a_new_id_creates_it(service: StoreService, ctx: TenantContext) -> None:
    response = await one(
        service, ctx, EntryRequest(Method.PUT, "Patient/p9", patient("Bo", rid="p9"))
    )
    assert (response.status, response.etag) == (201, 'W/"1"')


async def test_if_match_guards_an_update(service: StoreService, ctx: TenantContext) -> None:
    await one(service, ctx, EntryRequest(Method.PUT, "Patient/p1", patient("A", rid="p1")))
    stale = EntryRequest(Method.PUT, "Patient/p1", patient("B", rid="p1"), if_match='W/"2"')
    with pytest.raises(PreconditionFailed):
        await one(service, ctx, stale)
    fresh = EntryRequest(Method.PUT, "Patient/p1", patient("B", rid="p1"), if_match='W/"1"')
    assert (await one(service, ctx, fresh)).etag == 'W/"2"'


async def test_delete_writes_a_deletion_version(service: StoreService, ctx: TenantContext) -> None:
    await one(service, ctx, EntryRequest(Method.PUT, "Patient/p1", patient("A", rid="p1")))
    deleted = await one(service, ctx, EntryRequest(Method.DELETE, "Patient/p1"))
    assert (deleted.status, deleted.etag) == (204, 'W/"2"')
    with pytest.raises(Gone):
        await service.read(ctx, "Patient", "p1")
    again = await one(service, ctx, EntryRequest(Method.DELETE, "Patient/p1"))
    assert (again.status, again.etag) == (204, None)  # nothing left to delete: no new version
    with pytest.raises(PreconditionFailed):
        await one(service, ctx, EntryRequest(Method.DELETE, "Patient/p1", if_match='W/"2"'))


async def test_conditional_create_matches_an_existing_resource(
    service: StoreService, ctx: TenantContext, db: FakeDatabase
) -> None:
    first = EntryRequest(
        Method.POST, "Patient", patient("A", "m1"), if_none_exist=f"identifier={MRN}|m1"
    )
    assert (await one(service, ctx, first)).status == 201
    again = await one(service, ctx, first)
    assert (again.status, again.location) == (200, "Patient/id1/_history/1")
    other = EntryRequest(
        Method.POST, "Patient", patient("B", "m2"), if_none_exist=f"identifier={MRN}|m2"
    )
    assert (await one(service, ctx, other)).location == "Patient/id2/_history/1"
    assert db.sessions[-1].locks == [("Patient", f"identifier={MRN}|m2")]


async def test_conditional_create_with_several_matches_fails(
    service: StoreService, ctx: TenantContext
) -> None:
    for _ in range(2):
        await one(service, ctx, EntryRequest(Method.POST, "Patient", patient("A", "dup")))
    create = EntryRequest(
        Method.POST, "Patient", patient("A", "dup"), if_none_exist=f"identifier={MRN}|dup"
    )
    with pytest.raises(PreconditionFailed, match="matched 2"):
        await one(service, ctx, create)


async def test_a_transient_conflict_is_retried(
    service: StoreService, ctx: TenantContext, db: FakeDatabase
) -> None:
    db.transient_conflicts = 2
    response = await one(service, ctx, EntryRequest(Method.POST, "Patient", patient("A")))
    assert response.status == 201
    assert (db.rollbacks, db.commits) == (2, 1)


async def test_conflicts_beyond_the_attempts_are_409(
    service: StoreService, ctx: TenantContext, db: FakeDatabase
) -> None:
    db.transient_conflicts = service.max_attempts
    with pytest.raises(Conflict):
        await one(service, ctx, EntryRequest(Method.POST, "Patient", patient("A")))
    assert db.state.versions == {}
