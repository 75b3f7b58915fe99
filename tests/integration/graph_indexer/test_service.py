"""The graph-indexer as the gateway sees it: the ``GraphIndex`` contract over HTTP (probes,
metrics, errors), and the whole service fed by a real Kafka broker (Tansu) with its own
consumer group, dead-lettering what it cannot decode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from polyfhir_bus.events import POSITION_HEADER
from polyfhir_bus.kafka import ensure_topics
from polyfhir_core.contracts.graph_index import (
    GRAPH_INDEX,
    ChainStep,
    ChainWalk,
    GraphIndex,
)
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.errors import BadRequest, ServiceUnavailable
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.falkordb import LocalFalkorDB
from polyfhir_engines.processes import free_port
from polyfhir_engines.tansu import LocalKafka
from polyfhir_graph.bootstrap import bootstrap
from polyfhir_graph.entrypoints.http import create_app
from polyfhir_graph.settings import GraphSettings
from polyfhir_servicekit.contract_client import contract_client

pytestmark = pytest.mark.integration
WAIT_MS = 30_000
SUBJECT = (ChainStep("subject", "Patient"),)


@pytest.fixture
async def client(harness: Any) -> AsyncIterator[GraphIndex]:
    transport = httpx.ASGITransport(app=create_app(harness.service))
    async with httpx.AsyncClient(transport=transport, base_url="http://graph") as http:
        assert (await http.get("/readyz")).status_code == 200
        assert "polyfhir_graph_events_total" in (await http.get("/metrics")).text
        yield contract_client(GRAPH_INDEX, "http://graph", http)


async def test_walks_through_the_contract_client(harness: Any, gx: Any, client: GraphIndex) -> None:
    h = harness
    await h.apply(h.put("Observation", "a", 1, subject=gx.ref("Patient/p1")))
    hits = await client.chain_sources(h.ctx, ChainWalk("Observation", SUBJECT, ("p1",)))
    assert hits.ids == ("a",)
    assert await client.wait_applied(h.ctx, [AppliedVersion("Observation", "a", 1)], 0)
    with pytest.raises(BadRequest):
        await client.chain_sources(h.ctx, ChainWalk("Observation", (), ("p1",)))


async def test_an_engine_that_is_down_is_unavailable(gx: Any) -> None:
    settings = GraphSettings(
        graph_engine_url=f"redis://127.0.0.1:{free_port()}", startup_timeout_s=0.1
    )
    with pytest.raises(ServiceUnavailable):
        await bootstrap(settings)


async def test_the_service_consumes_the_change_stream(
    gx: Any, kafka_broker: LocalKafka, falkordb_server: LocalFalkorDB, producer: AIOKafkaProducer
) -> None:
    changes, dlq, tenant = gx.unique("changes"), gx.unique("dlq"), gx.unique("tenant")
    await ensure_topics(kafka_broker.bootstrap, 1, [changes, dlq])
    settings = GraphSettings(
        kafka_bootstrap=kafka_broker.bootstrap,
        graph_engine_url=falkordb_server.url,
        graph_name=gx.unique("g"),
        consumer_group=gx.unique("group"),
        resource_changes_topic=changes,
        dead_letter_topic=dlq,
        batch_max_wait_ms=20,
    )
    indexer = await bootstrap(settings)
    try:
        await indexer.start()
        h = gx.Harness(indexer.store, tenant)
        events = [
            h.put("Observation", "a", 1, subject=gx.ref("Patient/p1")),
            h.put("Observation", "b", 1, subject=gx.ref("Patient/p1")),
            h.delete("Observation", "b", 2),
        ]
        records = [(e.to_json(), e.key) for e in events[:2]]
        records += [(b"not json", f"{tenant}|Observation|x"), (events[2].to_json(), events[2].key)]
        for position, (value, key) in enumerate(records, start=1):
            headers = [(POSITION_HEADER, str(position).encode())]
            await producer.send_and_wait(
                changes, value, key=key.encode(), partition=0, headers=headers
            )
        ctx = TenantContext.of(tenant)
        assert await indexer.service.wait_positions(ctx, {0: 4}, WAIT_MS)
        walk = ChainWalk("Observation", SUBJECT, ("p1",))
        assert (await indexer.service.chain_sources(ctx, walk)).ids == ("a",)
        stats = await indexer.service.stats(ctx)
        assert (stats.resources, stats.tombstones, stats.references) == (1, 1, 1)
    finally:
        await indexer.close()
