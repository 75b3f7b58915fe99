"""Fixtures for the search-indexer tests: both adapters over one osmem-server, Tansu for
the consumer, and helpers that build change events.

The engine launchers come from ``polyfhir_testing.pytest_plugin`` (imported here so
these tests run on their own as well as in the whole suite). Every test gets its own
index prefix, tenant, topic and consumer group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from polyfhir_bus.consumer import Batch, Delivery
from polyfhir_bus.events import ResourceChanged
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.osmem import LocalOpenSearch
from polyfhir_search.adapters.elasticsearch import ElasticsearchIndex
from polyfhir_search.adapters.engine_index import EngineIndex
from polyfhir_search.adapters.opensearch import OpenSearchIndex
from polyfhir_search.service_layer.index_service import IndexService
from polyfhir_search.service_layer.indexer import Indexer
from polyfhir_testing.pytest_plugin import kafka_broker, opensearch_server

__all__ = ["kafka_broker", "opensearch_server"]

from fakes.events import batch_at, change, delivery, narrative, unique

ENGINES = ("opensearch", "elasticsearch")


def build_engine(kind: str, url: str, prefix: str) -> EngineIndex:
    if kind == "elasticsearch":
        return ElasticsearchIndex(url, prefix, compatibility_headers=False)
    return OpenSearchIndex(url, prefix)


class Harness:
    """One fresh index (own prefix) with its service and batch handler."""

    def __init__(self, engine: EngineIndex, tenant: str) -> None:
        self.engine = engine
        self.tenant = tenant
        self.ctx = TenantContext.of(tenant)
        self.freshness = Freshness(engine, recheck_s=0.05)
        self.indexer = Indexer(engine, self.freshness, SearchParameterRegistry.default())
        self.service = IndexService(engine, self.freshness)

    async def fill(self) -> None:
        """What the gateway's repair does for a new index once every tenant the primary
        holds is in it: here the primary holds nothing, so the index is complete."""
        state = await self.engine.state()
        assert await self.engine.mark_complete(state.generation, state.gaps)

    async def apply(self, *events: ResourceChanged) -> None:
        rejected = await self.indexer(Batch([delivery(e) for e in events], {}))
        assert rejected == []

    async def apply_at(self, *deliveries: Delivery) -> None:
        """Apply deliveries with their partitions and positions."""
        assert await self.indexer(batch_at(*deliveries)) == []


@pytest.fixture(params=ENGINES)
def engine_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def harness(engine_kind: str, opensearch_server: LocalOpenSearch) -> AsyncIterator[Harness]:
    engine = build_engine(engine_kind, opensearch_server.url, unique("t"))
    await engine.ensure_index()
    try:
        h = Harness(engine, unique("tenant"))
        await h.fill()
        yield h
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
