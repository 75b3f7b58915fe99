"""Fixtures for the search-indexer tests: both adapters over one osmem-server, Tansu for
the consumer, and helpers that build change events.

The engine launchers come from ``polyfhir_testing.pytest_plugin`` (imported here so
these tests run on their own as well as in the whole suite). Every test gets its own
index prefix, tenant, topic and consumer group.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from polyfhir_bus.consumer import Batch, Delivery
from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_search.adapters.elasticsearch import ElasticsearchIndex
from polyfhir_search.adapters.engine_index import EngineIndex
from polyfhir_search.adapters.opensearch import OpenSearchIndex
from polyfhir_search.service_layer.freshness import Freshness
from polyfhir_search.service_layer.indexer import Indexer
from polyfhir_search.service_layer.search_index import IndexService
from polyfhir_testing.engines import LocalOpenSearch
from polyfhir_testing.pytest_plugin import kafka_broker, opensearch_server

__all__ = ["kafka_broker", "opensearch_server"]

ENGINES = ("opensearch", "elasticsearch")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def change(
    tenant: str,
    rid: str,
    version: int,
    resource: dict[str, Any] | None,
    resource_type: str = "Condition",
) -> ResourceChanged:
    kind = ChangeKind.DELETED if resource is None else ChangeKind.UPDATED
    body = None if resource is None else {"resourceType": resource_type, "id": rid, **resource}
    return ResourceChanged(tenant, resource_type, rid, version, kind, datetime.now(UTC), body)


def narrative(text: str, **more: Any) -> dict[str, Any]:
    div = f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{text}</p></div>'
    return {"text": {"status": "generated", "div": div}, **more}


def delivery(event: ResourceChanged, partition: int = 0, position: int | None = None) -> Delivery:
    value = event.to_json()
    record: ConsumerRecord[Any, Any] = ConsumerRecord(
        "test", partition, position or 0, 0, 0, event.key.encode(), value, None, 0, len(value), ()
    )
    return Delivery(event, partition, position or 0, position, record)


def build_engine(kind: str, url: str, prefix: str) -> EngineIndex:
    if kind == "elasticsearch":
        return ElasticsearchIndex(url, prefix, compatibility_headers=False)
    return OpenSearchIndex(url, prefix)


class Harness:
    """One fresh index (own prefix) with its service and batch handler."""

    def __init__(self, engine: EngineIndex, tenant: str) -> None:
        self.engine = engine
        self.tenant = tenant
        self.freshness = Freshness(engine, recheck_s=0.05)
        self.indexer = Indexer(engine, self.freshness, SearchParameterRegistry.default())
        self.service = IndexService(engine, self.freshness)

    async def apply(self, *events: ResourceChanged) -> None:
        rejected = await self.indexer(Batch([delivery(e) for e in events], {}))
        assert rejected == []

    async def apply_at(self, *deliveries: Delivery) -> None:
        """Apply deliveries with their partitions and positions."""
        positions: dict[int, int] = {}
        for d in deliveries:
            if d.position is not None:
                positions[d.partition] = max(positions.get(d.partition, -1), d.position)
        assert await self.indexer(Batch(list(deliveries), positions)) == []


@pytest.fixture(params=ENGINES)
def engine_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def harness(engine_kind: str, opensearch_server: LocalOpenSearch) -> AsyncIterator[Harness]:
    engine = build_engine(engine_kind, opensearch_server.url, unique("t"))
    await engine.ensure_index()
    try:
        yield Harness(engine, unique("tenant"))
    finally:
        await engine.close()


class Events:
    """Builders for the tests (test modules cannot import this conftest)."""

    change = staticmethod(change)
    narrative = staticmethod(narrative)
    delivery = staticmethod(delivery)
    unique = staticmethod(unique)
    build_engine = staticmethod(build_engine)
    Harness = Harness


@pytest.fixture
def ev() -> type[Events]:
    return Events
