"""Failures of the secondary path never lose an acknowledged write or fail a search."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from polyfhir_bus.events import POSITION_HEADER, RESOURCE_CHANGES_TOPIC, SCHEMA_HEADER, event_key
from polyfhir_core.contracts.search_index import SEARCH_INDEX
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.local_stack import LocalStack
from polyfhir_servicekit.contract_client import contract_client
from stack.conftest import Writer, eventually, fhir_client, ids, patient, route

pytestmark = pytest.mark.integration


def search_ids(stack: LocalStack, tenant: str, marker: str) -> tuple[list[str], list[str], int]:
    with fhir_client(stack, tenant) as fhir:
        answer = fhir.get(
            "/Patient", params={"_content": marker, "_count": 1000, "_total": "accurate"}
        )
        assert answer.status_code == 200, answer.text
        return ids(answer.json()), route(answer), answer.json().get("total", -1)


def served_by_search_with(
    stack: LocalStack, tenant: str, marker: str, expected: set[str]
) -> Callable[[], bool]:
    def check() -> bool:
        found, backends, _ = search_ids(stack, tenant, marker)
        return "search" in backends and set(found) == expected

    return check


def admin(stack: LocalStack, tenant: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{stack.gateway.url}/admin{path}",
        headers={"X-Tenant-ID": tenant},
        timeout=30.0,
        **kw,
    )


def run_repair(stack: LocalStack, tenant: str, kind: str) -> dict[str, Any]:
    started = admin(stack, tenant, "POST", f"/backends/search/{kind}")
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    return eventually(  # type: ignore[no-any-return]
        lambda: (
            (job := admin(stack, tenant, "GET", f"/backends/search/jobs/{job_id}").json())["state"]
            != "running"
            and job
        ),
        what=f"the {kind} job",
    )


def test_search_engine_down_searches_still_answer_from_the_primary(
    fresh_stack: Callable[..., LocalStack], tenant: str, marker: str
) -> None:
    stack = fresh_stack("hybrid")
    with fhir_client(stack, tenant) as fhir:
        pid = fhir.post("/Patient", json=patient(marker)).json()["id"]
        assert "search" in route(fhir.get("/Patient", params={"_text": marker}))
        stack.opensearch.stop()
        for _ in range(5):  # before and after the health monitor notices: never an error
            answer = fhir.get("/Patient", params={"_text": marker})
            assert answer.status_code == 200, answer.text
            assert ids(answer.json()) == [pid]
            assert route(answer) == ["primary"]
        # Writes go on while the secondary is down (a hybrid write warns, it does not fail).
        later = fhir.post("/Patient", json=patient(marker, 1))
        assert later.status_code == 201, later.text
        # The engine comes back empty (memory only): a rebuild refills the tenant's index.
        stack.opensearch.start()
        job = run_repair(stack, tenant, "rebuild")
        assert job["state"] == "completed", (job, stack.logs())
        expected = {pid, later.json()["id"]}
        eventually(
            served_by_search_with(stack, tenant, marker, expected),
            what="the rebuilt index serving searches",
        )


def test_broker_restart_mid_ingest_loses_no_acknowledged_write(
    fresh_stack: Callable[..., LocalStack], tenant: str, marker: str
) -> None:
    stack = fresh_stack("asynchronous")
    writer = Writer(stack, tenant, marker, 90)
    writer.start()
    writer.wait_for(30)
    stack.kafka.stop()  # a memory-only broker: whatever it held is gone
    writer.wait_for(60)  # writes keep succeeding while the broker is down (the outbox holds them)
    stack.kafka.start()
    writer.join(timeout=120)
    assert not writer.failures
    assert len(writer.acknowledged) == 90
    # The reconciler repairs what the broker lost; afterwards the secondary holds every write.
    job = run_repair(stack, tenant, "reconcile")
    assert job["state"] == "completed", job
    eventually(
        served_by_search_with(stack, tenant, marker, set(writer.acknowledged)),
        timeout=90,
        what="every acknowledged write indexed",
    )


def test_indexer_killed_mid_batch_catches_up_without_duplicates(
    fresh_stack: Callable[..., LocalStack], tenant: str, marker: str
) -> None:
    stack = fresh_stack("asynchronous")
    writer = Writer(stack, tenant, marker, 80)
    writer.start()
    writer.wait_for(25)
    stack.indexer.kill()  # SIGKILL: a batch may be applied but its offsets not committed
    writer.wait_for(50)
    stack.indexer.start()
    writer.join(timeout=120)
    assert len(writer.acknowledged) == 80, writer.failures
    eventually(
        served_by_search_with(stack, tenant, marker, set(writer.acknowledged)),
        timeout=90,
        what="the restarted indexer catching up",
    )
    found, _, total = search_ids(stack, tenant, marker)
    assert len(found) == len(set(found)) == 80
    assert total == 80


async def _index_versions(stack: LocalStack, tenant: str, key: ResourceKey) -> list[IndexedVersion]:
    async with httpx.AsyncClient() as http:
        index = contract_client(SEARCH_INDEX, stack.indexer.url, http)
        return await index.versions(TenantContext.of(tenant), [key])


async def _produce(bootstrap: str, records: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(
                RESOURCE_CHANGES_TOPIC,
                value,
                key=key.encode(),
                headers=[(POSITION_HEADER, b"0"), (SCHEMA_HEADER, b"1.0")],
            )
    finally:
        await producer.stop()


def test_duplicate_and_out_of_order_events_never_regress_the_index(
    fresh_stack: Callable[..., LocalStack], tenant: str, marker: str
) -> None:
    stack = fresh_stack("hybrid")
    with fhir_client(stack, tenant) as fhir:
        first = fhir.post("/Patient", json=patient(marker + "old")).json()
        pid = first["id"]
        v1 = fhir.get(f"/Patient/{pid}/_history/1").json()
        assert (
            fhir.put(f"/Patient/{pid}", json={**patient(marker + "new"), "id": pid}).status_code
            == 200
        )
        # Replay version 1 (out of order) and version 2 (a duplicate) straight onto the topic.
        old_event = {
            "schema_version": "1.0",
            "tenant": tenant,
            "resource_type": "Patient",
            "resource_id": pid,
            "version": 1,
            "kind": "created",
            "last_updated": "2020-01-01T00:00:00+00:00",
            "resource": v1,
        }
        key = event_key(tenant, "Patient", pid)
        asyncio.run(_produce(stack.kafka.bootstrap, [(key, orjson.dumps(old_event))]))
        marker_after = fhir.post("/Patient", json=patient(marker + "after")).json()["id"]
        # Once a later write is searchable the replayed events were consumed too (one stream).
        eventually(
            served_by_search_with(stack, tenant, marker + "after", {marker_after}),
            what="a later write indexed",
        )
        held = asyncio.run(_index_versions(stack, tenant, ResourceKey("Patient", pid)))
        assert [v.version for v in held] == [2]
        assert search_ids(stack, tenant, marker + "new")[0] == [pid]
        assert search_ids(stack, tenant, marker + "old")[0] == []
