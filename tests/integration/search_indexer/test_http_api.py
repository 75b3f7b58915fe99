"""The internal HTTP API through ``HttpSearchIndex`` (what the gateway uses): every call of
the contract round-trips, errors come back as the same FhirError, and an unreachable
service is ServiceUnavailable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from polyfhir_clients.search import HttpSearchIndex
from polyfhir_core.contracts.search_index import (
    AppliedVersion,
    IndexedVersion,
    SearchIndex,
    TextClause,
    TextField,
    TextSearch,
)
from polyfhir_core.errors import BadRequest, ServiceUnavailable
from polyfhir_core.resources import ResourceKey
from polyfhir_engines.processes import free_port
from polyfhir_search.entrypoints.http import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(harness: Any) -> AsyncIterator[HttpSearchIndex]:
    app = create_app(harness.service)
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://search-indexer")
    index = HttpSearchIndex("http://search-indexer", client=http)
    try:
        yield index
    finally:
        await index.close()


async def test_every_call_round_trips(harness: Any, ev: Any, client: HttpSearchIndex) -> None:
    assert isinstance(client, SearchIndex)
    t = harness.tenant
    await harness.apply_at(
        ev.delivery(ev.change(t, "a", 2, ev.narrative("Chronic bronchitis")), 0, 5),
        ev.delivery(ev.change(t, "b", 1, None), 1, 2),
    )
    request = TextSearch(("Condition",), (TextClause(TextField.NARRATIVE, ("bronchiti*",)),))
    hits = await client.search_text(t, request)
    assert [h.key for h in hits.hits] == [ResourceKey("Condition", "a")]
    assert hits.total == 1
    assert await client.positions(t) == {0: 5, 1: 2}
    assert await client.wait_positions(t, {0: 5, 1: 2}, 1000)
    assert not await client.wait_positions(t, {0: 6}, 50)
    assert await client.wait_applied(t, [AppliedVersion("Condition", "a", 2)], 1000)
    assert not await client.wait_applied(t, [AppliedVersion("Condition", "a", 3)], 50)
    keys = [ResourceKey("Condition", "a"), ResourceKey("Condition", "b")]
    assert await client.versions(t, keys) == [
        IndexedVersion("Condition", "a", 2),
        IndexedVersion("Condition", "b", 1, deleted=True),
    ]
    assert [v.id for v in await client.scan(t, ResourceKey("Condition", "a"), 10)] == ["b"]
    stats = await client.stats(t)
    assert (stats.documents, stats.tombstones, stats.positions) == (1, 1, {0: 5, 1: 2})
    assert await client.remove(t, [ResourceKey("Condition", "b")]) == 1
    assert await client.drop_tenant(t) == 1
    assert await client.scan(t, None, 10) == []
    await client.check_ready()


async def test_errors_come_back_as_the_same_error(harness: Any, client: HttpSearchIndex) -> None:
    bad = TextSearch(None, (TextClause(TextField.NARRATIVE, ("-fever",)),))
    with pytest.raises(BadRequest, match="not negated"):
        await client.search_text(harness.tenant, bad)
    with pytest.raises(BadRequest):
        await client.scan(harness.tenant, None, -1)
    http = client._client
    response = await http.post("/internal/v1/search-index/nope", json={"tenant": "t", "args": {}})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    response = await http.post("/internal/v1/search-index/stats", json={"args": {}})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_probes_and_metrics(harness: Any, client: HttpSearchIndex) -> None:
    http = client._client
    assert (await http.get("/livez")).status_code == 200
    assert (await http.get("/readyz")).status_code == 200
    metrics = (await http.get("/metrics")).text
    assert "polyfhir_search_events_total" in metrics


async def test_unreachable_service_is_unavailable() -> None:
    index = HttpSearchIndex(f"http://127.0.0.1:{free_port()}", timeout=2.0)
    try:
        with pytest.raises(ServiceUnavailable):
            await index.stats("t")
        with pytest.raises(ServiceUnavailable):
            await index.check_ready()
    finally:
        await index.close()


async def test_an_engine_that_is_down_is_unavailable(ev: Any, engine_kind: str) -> None:
    engine = ev.build_engine(engine_kind, f"http://127.0.0.1:{free_port()}", ev.unique("down"))
    app = create_app(ev.Harness(engine, "t").service)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://down")
    index = HttpSearchIndex("http://down", client=http)
    try:
        request = TextSearch(None, (TextClause(TextField.CONTENT, ("fever",)),))
        with pytest.raises(ServiceUnavailable):
            await index.search_text("t", request)
        assert (await http.get("/readyz")).status_code == 503
        with pytest.raises(ServiceUnavailable):
            await index.check_ready()
    finally:
        await index.close()
        await engine.close()
