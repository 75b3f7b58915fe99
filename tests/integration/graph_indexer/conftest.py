"""Fixtures for the graph-indexer tests: the same behaviour over FalkorDB (a child process)
and Neo4j (only when ``POLYFHIR_TEST_NEO4J_URI`` is set; there is no Neo4j server on the
development machines). Every test gets its own graph name and tenants.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from polyfhir_bus.consumer import Batch, Delivery
from polyfhir_bus.events import ResourceChanged
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.tenancy import TenantContext
from polyfhir_engines.falkordb import LocalFalkorDB
from polyfhir_graph.adapters.cypher import CypherGraph
from polyfhir_graph.adapters.falkordb import FalkorGraph
from polyfhir_graph.adapters.neo4j import Neo4jGraph
from polyfhir_graph.service_layer.graph_service import GraphService
from polyfhir_graph.service_layer.indexer import Indexer
from polyfhir_testing.neo4j import neo4j_from_env
from polyfhir_testing.pytest_plugin import falkordb_server, kafka_broker

__all__ = ["falkordb_server", "kafka_broker"]

from fakes.events import batch_at, change, delivery, unique

NEO4J = neo4j_from_env()
ENGINES = (
    "falkordb",
    pytest.param(
        "neo4j",
        marks=pytest.mark.skipif(NEO4J is None, reason="POLYFHIR_TEST_NEO4J_URI is not set"),
    ),
)


def neo4j_graph(graph: str) -> Neo4jGraph:
    assert NEO4J is not None
    return Neo4jGraph(NEO4J.uri, graph, NEO4J.user, NEO4J.password)


class Harness:
    """One fresh graph (own name) with its service and batch handler, and one tenant."""

    def __init__(self, store: CypherGraph, tenant: str) -> None:
        self.store = store
        self.tenant = tenant
        self.ctx = TenantContext.of(tenant)
        self.freshness = Freshness(store, recheck_s=0.05)
        registry = SearchParameterRegistry.default()
        self.indexer = Indexer(store, self.freshness, registry)
        self.service = GraphService(store, self.freshness, registry)

    async def apply(self, *events: ResourceChanged) -> None:
        assert await self.indexer(Batch([delivery(e) for e in events], {})) == []

    async def apply_at(self, *deliveries: Delivery) -> None:
        assert await self.indexer(batch_at(*deliveries)) == []

    def put(self, rtype: str, rid: str, version: int, **body: Any) -> ResourceChanged:
        return change(self.tenant, rid, version, body, resource_type=rtype)

    def delete(self, rtype: str, rid: str, version: int) -> ResourceChanged:
        return change(self.tenant, rid, version, None, resource_type=rtype)


@pytest.fixture(params=ENGINES)
async def graph_store(
    request: pytest.FixtureRequest, falkordb_server: LocalFalkorDB
) -> AsyncIterator[CypherGraph]:
    name = unique("g")
    store: CypherGraph = (
        neo4j_graph(name) if request.param == "neo4j" else FalkorGraph(falkordb_server.url, name)
    )
    await store.ensure_schema()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def harness(graph_store: CypherGraph) -> Harness:
    return Harness(graph_store, unique("tenant"))


def ref(target: str) -> dict[str, str]:
    return {"reference": target}


class Graph:
    """Builders for the tests (test modules cannot import this conftest)."""

    Harness = Harness
    ref = staticmethod(ref)
    unique = staticmethod(unique)
    delivery = staticmethod(delivery)


@pytest.fixture
def gx() -> type[Graph]:
    return Graph
