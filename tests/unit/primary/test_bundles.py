"""Transactions and batches through the store service, over the in-memory store."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.primary_store import FakeDatabase
from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.errors import BadRequest, PreconditionFailed
from polyfhir_core.tenancy import TenantContext
from polyfhir_primary.service_layer.store_service import StoreService

MRN = "http://hospital/mrn"
PATIENT_URN = "urn:uuid:0b5a1c55-7a2f-4a55-9a1a-000000000001"


def patient(mrn: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "identifier": [{"system": MRN, "value": mrn}]}


def observation(subject: str, rid: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject},
    }
    if rid is not None:
        body["id"] = rid
    return body


async def test_urn_uuid_references_become_the_assigned_ids(
    service: StoreService, ctx: TenantContext
) -> None:
    responses = await service.process(
        ctx,
        BundleKind.TRANSACTION,
        [
            EntryRequest(Method.POST, "Observation", observation(PATIENT_URN)),
            EntryRequest(Method.POST, "Patient", patient("m1"), full_url=PATIENT_URN),
        ],
    )
    assert [(r.status, r.location) for r in responses] == [
        (201, "Observation/id1/_history/1"),
        (201, "Patient/id2/_history/1"),
    ]
    stored = await service.read(ctx, "Observation", "id1")
    assert stored.content is not None
    assert stored.content["subject"] == {"reference": "Patient/id2"}


async def test_an_unknown_urn_uuid_is_a_bad_request(
    service: StoreService, ctx: TenantContext, db: FakeDatabase
) -> None:
    with pytest.raises(BadRequest, match="does not match any fullUrl"):
        await service.process(
            ctx,
            BundleKind.TRANSACTION,
            [EntryRequest(Method.POST, "Observation", observation("urn:uuid:missing"))],
        )
    assert db.state.versions == {}


async def test_conditional_references_resolve_to_the_one_match(
    service: StoreService, ctx: TenantContext
) -> None:
    await service.process(
        ctx,
        BundleKind.TRANSACTION,
        [EntryRequest(Method.PUT, "Patient/p1", {**patient("m1"), "id": "p1"})],
    )
    await service.process(
        ctx,
        BundleKind.TRANSACTION,
        [
            EntryRequest(
                Method.PUT, "Observation/o1", observation(f"Patient?identifier={MRN}|m1", "o1")
            )
        ],
    )
    stored = await service.read(ctx, "Observation", "o1")
    assert stored.content is not None and stored.content["subject"] == {"reference": "Patient/p1"}
    with pytest.raises(PreconditionFailed, match="matched 0"):
        await service.process(
            ctx,
            BundleKind.TRANSACTION,
            [EntryRequest(Method.POST, "Observation", observation(f"Patient?identifier={MRN}|zz"))],
        )


async def test_a_transaction_is_all_or_nothing(
    service: StoreService, ctx: TenantContext, db: FakeDatabase
) -> None:
    entries = [
        EntryRequest(Method.POST, "Patient", patient("m1")),  # runs first (POST before PUT)
        EntryRequest(Method.PUT, "Patient/p2", {**patient("m2"), "id": "p2"}, if_match='W/"1"'),
    ]
    with pytest.raises(PreconditionFailed) as failed:
        await service.process(ctx, BundleKind.TRANSACTION, entries)
    assert failed.value.message.startswith("entry 1 (PUT Patient/p2)")
    assert db.state.versions == {}  # the POST was written inside the transaction, then undone
    assert db.state.outbox == []
    assert (db.commits, db.rollbacks) == (0, 1)


async def test_batch_entries_succeed_and_fail_independently(
    service: StoreService, ctx: TenantContext, db: FakeDatabase
) -> None:
    responses = await service.process(
        ctx,
        BundleKind.BATCH,
        [
            EntryRequest(Method.PUT, "Patient/p1", {**patient("m1"), "id": "p1"}),
            EntryRequest(Method.DELETE, "Patient/p2", if_match='W/"1"'),
            EntryRequest(Method.POST, "Patient", patient("m3")),
        ],
    )
    assert [r.status for r in responses] == [201, 412, 201]
    outcome = responses[1].outcome
    assert outcome is not None and outcome["resourceType"] == "OperationOutcome"
    assert sorted(key[1:] for key in db.state.versions) == [("Patient", "id1"), ("Patient", "p1")]


async def test_a_transaction_may_not_touch_a_resource_twice(
    service: StoreService, ctx: TenantContext
) -> None:
    body = {**patient("m1"), "id": "p1"}
    with pytest.raises(BadRequest, match="more than once"):
        await service.process(
            ctx,
            BundleKind.TRANSACTION,
            [
                EntryRequest(Method.PUT, "Patient/p1", body),
                EntryRequest(Method.DELETE, "Patient/p1"),
            ],
        )


async def test_entries_run_in_fhir_processing_order(
    service: StoreService, ctx: TenantContext
) -> None:
    await service.process(
        ctx,
        BundleKind.TRANSACTION,
        [EntryRequest(Method.PUT, "Patient/p1", {**patient("m1"), "id": "p1"})],
    )
    responses = await service.process(
        ctx,
        BundleKind.TRANSACTION,
        [
            EntryRequest(Method.GET, "Patient/p1"),  # reads run last: the deletion is seen
            EntryRequest(Method.DELETE, "Patient/p9"),
            EntryRequest(Method.PUT, "Patient/p1", {**patient("m2"), "id": "p1"}),
        ],
    )
    assert [r.status for r in responses] == [200, 204, 200]
    assert responses[0].resource is not None
    assert responses[0].resource["identifier"][0]["value"] == "m2"
