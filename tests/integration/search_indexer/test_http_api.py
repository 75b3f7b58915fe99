"""The internal HTTP API through the ``SearchIndex`` contract client (what the gateway uses): every call of
the contract round-trips, errors come back as the same FhirError, and an unreachable
service is ServiceUnavailable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from polyfhir_core.contracts.search_index import (
    SEARCH_INDEX,
    SearchIndex,
    TextClause,
    TextField,
    TextSearch,
)
from polyfhir_core.contracts.secondary import AppliedVersion, IndexedVersion
from polyfhir_core.errors import BadRequest, ServiceUnavailable
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.processes import free_port
from polyfhir_search.entrypoints.http import create_app
from polyfhir_servicekit.contract_client import contract_client
from polyfhir_servicekit.transports import AiohttpTransport, HttpxTransport, Transport

pytestmark = pytest.mark.integration


@pytest.fixture
async def http(harness: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(harness.service))
    async with httpx.AsyncClient(transport=transport, base_url="http://search-indexer") as http:
        yield http


@pytest.fixture
def client(http: httpx.AsyncClient) -> SearchIndex:
    return contract_client(SEARCH_INDEX, "http://search-indexer", http)


async def test_every_call_round_trips(harness: Any, ev: Any, client: SearchIndex) -> None:
    assert isinstance(client, SearchIndex)
    t, ctx = harness.tenant, harness.ctx
    await harness.apply_at(
        ev.delivery(ev.change(t, "a", 2, ev.narrative("Chronic bronchitis")), 0, 5),
        ev.delivery(ev.change(t, "b", 1, None), 1, 2),
    )
    request = TextSearch(("Condition",), (TextClause(TextField.NARRATIVE, ("bronchiti*",)),))
    hits = await client.search_text(ctx, request)
    assert [h.key for h in hits.hits] == [ResourceKey("Condition", "a")]
    assert hits.total == 1
    assert await client.positions(ctx) == {0: 5, 1: 2}
    assert await client.wait_positions(ctx, {0: 5, 1: 2}, 1000)
    assert not await client.wait_positions(ctx, {0: 6}, 50)
    assert await client.wait_applied(ctx, [AppliedVersion("Condition", "a", 2)], 1000)
    assert not await client.wait_applied(ctx, [AppliedVersion("Condition", "a", 3)], 50)
    keys = [ResourceKey("Condition", "a"), ResourceKey("Condition", "b")]
    assert await client.versions(ctx, keys) == [
        IndexedVersion("Condition", "a", 2),
        IndexedVersion("Condition", "b", 1, deleted=True),
    ]
    assert [v.id for v in await client.scan(ctx, ResourceKey("Condition", "a"), 10)] == ["b"]
    stats = await client.stats(ctx)
    assert (stats.documents, stats.tombstones, stats.positions) == (1, 1, {0: 5, 1: 2})
    assert await client.remove(ctx, [ResourceKey("Condition", "b")]) == 1
    assert await client.drop_tenant(ctx) == 1
    assert await client.scan(ctx, None, 10) == []
    await client.check_ready()


async def test_errors_come_back_as_the_same_error(
    harness: Any, client: SearchIndex, http: httpx.AsyncClient
) -> None:
    bad = TextSearch(None, (TextClause(TextField.NARRATIVE, ("-fever",)),))
    with pytest.raises(BadRequest, match="not negated"):
        await client.search_text(harness.ctx, bad)
    with pytest.raises(BadRequest):
        await client.scan(harness.ctx, None, -1)
    response = await http.post("/internal/v1/search-index/nope", json={})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    response = await http.post("/internal/v1/search-index/stats", json={})  # no ctx
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_probes_and_metrics(http: httpx.AsyncClient) -> None:
    assert (await http.get("/livez")).status_code == 200
    assert (await http.get("/readyz")).status_code == 200
    metrics = (await http.get("/metrics")).text
    assert "polyfhir_search_events_total" in metrics


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_unreachable_service_is_unavailable(kind: str) -> None:
    async with httpx.AsyncClient() as http:
        transport: Transport = AiohttpTransport() if kind == "aiohttp" else HttpxTransport(http)
        url = f"http://127.0.0.1:{free_port()}"
        index = contract_client(SEARCH_INDEX, url, transport, timeout=2.0)
        try:
            with pytest.raises(ServiceUnavailable):
                await index.stats(TenantContext.of("t"))
            with pytest.raises(ServiceUnavailable):
                await index.check_ready()
        finally:
            await transport.close()


async def test_an_engine_that_is_down_is_unavailable(ev: Any, engine_kind: str) -> None:
    engine = ev.build_engine(engine_kind, f"http://127.0.0.1:{free_port()}", ev.unique("down"))
    app = create_app(ev.Harness(engine, "t").service)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://down")
    index = contract_client(SEARCH_INDEX, "http://down", http)
    try:
        request = TextSearch(None, (TextClause(TextField.CONTENT, ("fever",)),))
        with pytest.raises(ServiceUnavailable):
            await index.search_text(TenantContext.of("t"), request)
        assert (await http.get("/readyz")).status_code == 503
        with pytest.raises(ServiceUnavailable):
            await index.check_ready()
    finally:
        await http.aclose()
        await engine.close()
