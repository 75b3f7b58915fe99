"""The terminology-indexer as the gateway sees it: the ``TerminologyIndex`` contract over
HTTP (probes, metrics, errors with their OperationOutcome), and the whole service fed by a
real Kafka broker (Tansu) with its own consumer group: definitions applied, replays and
out-of-order versions idempotent, tombstones, dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from fakes.events import unique
from fakes.terminology_data import DISORDERS, disorders, is_a, value_set
from polyfhir_bus.events import POSITION_HEADER, ResourceChanged
from polyfhir_bus.kafka import ensure_topics
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.contracts.terminology import (
    TERMINOLOGY_INDEX,
    ExpandRequest,
    LookupRequest,
    TerminologyIndex,
)
from polyfhir_core.errors import FhirError, NotFound
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.tansu import LocalKafka
from polyfhir_servicekit.contract_client import contract_client
from polyfhir_terminology.adapters.sql_store import SqlTerminologyStore
from polyfhir_terminology.bootstrap import bootstrap, build_database
from polyfhir_terminology.entrypoints.http import create_app
from polyfhir_terminology.settings import TerminologySettings

from .conftest import Harness, engine_url

pytestmark = pytest.mark.integration
WAIT_MS = 30_000


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[TerminologyIndex]:
    transport = httpx.ASGITransport(app=create_app(harness.service))
    async with httpx.AsyncClient(transport=transport, base_url="http://terminology") as http:
        assert (await http.get("/readyz")).status_code == 200
        assert "polyfhir_terminology_events_total" in (await http.get("/metrics")).text
        yield contract_client(TERMINOLOGY_INDEX, "http://terminology", http)


async def test_the_contract_over_http(harness: Harness, client: TerminologyIndex) -> None:
    h = harness
    await h.apply(
        h.put("cs", 1, disorders()), h.put("vs", 1, value_set("http://x/vs", [is_a("INF")]))
    )
    result = await client.lookup(h.ctx, LookupRequest(DISORDERS, "BAC"))
    assert result.display == "Bacterial infection" and result.designations[0].language == "de"
    page = await client.expand(h.ctx, ExpandRequest(value_set_url="http://x/vs", count=2))
    assert (page.total, len(page.contains)) == (6, 2)
    assert await client.wait_applied(h.ctx, [AppliedVersion("CodeSystem", "cs", 1)], 0)
    with pytest.raises(NotFound):
        await client.lookup(h.ctx, LookupRequest("http://nowhere", "x"))


async def test_too_costly_travels_as_its_outcome(
    harness: Harness, client: TerminologyIndex
) -> None:
    h = harness
    big = {
        "resourceType": "CodeSystem",
        "url": "http://x/big",
        "concept": [{"code": str(i)} for i in range(60)],
    }
    await h.apply(h.put("big", 1, big))
    inline = value_set("u", [{"system": "http://x/big"}])
    with pytest.raises(FhirError) as refused:
        await client.expand(h.ctx, ExpandRequest(value_set=inline))
    assert refused.value.status == 400
    assert refused.value.outcome()["issue"][0]["code"] == "too-costly"


async def _publish(
    producer: AIOKafkaProducer, topic: str, records: list[tuple[bytes, str]]
) -> None:
    for position, (value, key) in enumerate(records, start=1):
        headers = [(POSITION_HEADER, str(position).encode())]
        await producer.send_and_wait(topic, value, key=key.encode(), partition=0, headers=headers)


def _record(event: ResourceChanged) -> tuple[bytes, str]:
    return event.to_json(), event.key


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_the_service_consumes_the_change_stream(
    engine: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    kafka_broker: LocalKafka,
    producer: AIOKafkaProducer,
) -> None:
    changes, dlq = unique("changes"), unique("dlq")
    await ensure_topics(kafka_broker.bootstrap, 1, [changes, dlq])
    settings = TerminologySettings(
        kafka_bootstrap=kafka_broker.bootstrap,
        terminology_url=engine_url(engine, request, tmp_path),
        consumer_group=unique("group"),
        resource_changes_topic=changes,
        dead_letter_topic=dlq,
        batch_max_wait_ms=20,
    )
    indexer = await bootstrap(settings)
    try:
        await indexer.start()
        h = Harness(indexer.store)
        renamed = disorders()
        renamed["concept"][1]["display"] = "Renamed"
        events = [
            h.put("cs", 2, renamed),
            h.put("cs", 1, disorders()),  # out of order: older than what is held
            h.put("vs", 1, value_set("http://x/vs", [is_a("VIR")])),
            h.put("gone", 1, value_set("http://x/gone", [is_a("INF")])),
            h.delete("ValueSet", "gone", 2),
            h.put("cs", 2, renamed),  # a replay
        ]
        records = [_record(e) for e in events]
        records.insert(3, (b"not json", f"{h.tenant}|CodeSystem|x"))
        await _publish(producer, changes, records)
        ctx = TenantContext.of(h.tenant)
        assert await indexer.service.wait_positions(ctx, {0: len(records)}, WAIT_MS)
        lookup = await indexer.service.lookup(ctx, LookupRequest(DISORDERS, "COVID"))
        assert lookup.display == "Renamed"
        expansion = await indexer.service.expand(ctx, ExpandRequest(value_set_url="http://x/vs"))
        assert {e.code for e in expansion.contains} == {"VIR", "FLU", "COVID"}
        with pytest.raises(NotFound):
            await indexer.service.expand(ctx, ExpandRequest(value_set_url="http://x/gone"))
        stats = await indexer.service.stats(ctx)
        assert (stats.code_systems, stats.value_sets, stats.positions) == (1, 1, {0: 7})
    finally:
        await indexer.close()


async def test_on_postgresql_the_store_keeps_to_its_own_schema(
    request: pytest.FixtureRequest,
) -> None:
    """Sharing the primary's database: same table names, no clash (docs/terminology.md)."""
    dsn = engine_url("postgresql", request, Path("."))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE resource_versions (primary_column TEXT)")
        await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
        await conn.execute("INSERT INTO schema_migrations VALUES (1)")
        store = SqlTerminologyStore(build_database(dsn))
        await store.ensure_schema()
        try:
            h = Harness(store)
            assert await h.apply(h.put("cs", 1, disorders())) == []
            assert (await h.service.lookup(h.ctx, LookupRequest(DISORDERS, "BAC"))).display
        finally:
            await store.close()
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = 'resource_versions'"
        )
        assert [c[0] for c in columns] == ["primary_column"]
    finally:
        await conn.close()
