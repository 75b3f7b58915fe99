"""FalkorDB uses its indexes the way the walks need (``GRAPH.EXPLAIN``): every walk and the
patient compartment start at the nodes the primary named, never at a scan of the
searched type, and the schema the indexer creates at every start stays one index.

A plan starting at the far end answers the same, only slower (50-600 ms instead of
1-50 ms at 20k resources, docs/graph-indexer.md), so this is the test that notices it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from falkordb.asyncio.graph import AsyncGraph
from redis.asyncio import Redis

from polyfhir_core.contracts.graph_index import ChainStep, ChainWalk, HasStep, HasWalk
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_engines.falkordb import LocalFalkorDB
from polyfhir_graph.adapters.falkordb import FalkorGraph
from polyfhir_graph.adapters.statements import COMPARTMENT, walk_statement
from polyfhir_graph.domain.paths import chain_path, has_path
from polyfhir_graph.service_layer.graph_service import compartment_links

pytestmark = pytest.mark.integration
REGISTRY = SearchParameterRegistry.default()


@pytest.fixture
async def engine(
    falkordb_server: LocalFalkorDB, gx: Any
) -> AsyncIterator[tuple[FalkorGraph, AsyncGraph]]:
    """The indexer's store on a fresh graph, and a plain client of the same graph."""
    name = gx.unique("plans")
    store = FalkorGraph(falkordb_server.url, name)
    redis = Redis.from_url(falkordb_server.url, decode_responses=True)
    await store.ensure_schema()
    try:
        yield store, AsyncGraph(redis, name)
    finally:
        await store.close()
        await redis.aclose()


async def plan_of(graph: AsyncGraph, query: str, params: dict[str, Any]) -> list[str]:
    """The plan's operations, the first one run last (FalkorDB prints the root first)."""
    plan = await graph.explain(query, params)
    return [line.strip() for line in str(plan).splitlines() if line.strip()]


async def test_schema_creation_is_idempotent(
    engine: tuple[FalkorGraph, AsyncGraph], falkordb_server: LocalFalkorDB
) -> None:
    store, graph = engine
    await store.ensure_schema()  # a restarted indexer, or a second replica
    again = FalkorGraph(falkordb_server.url, graph.name)
    try:
        await again.ensure_schema()
    finally:
        await again.close()
    indexes = (await graph.query("CALL db.indexes() YIELD label, properties")).result_set
    assert sorted((label, list(props)) for label, props in indexes) == [
        ("Position", ["graph", "partition"]),
        ("Resource", ["tenant", "type", "id"]),
    ]


CHAINS = {
    1: (ChainStep("subject", "Patient"),),
    2: (ChainStep("subject", "Patient"), ChainStep("organization", "Organization")),
    3: (
        ChainStep("subject", "Patient"),
        ChainStep("organization", "Organization"),
        ChainStep("partof", "Organization"),
    ),
    4: (
        ChainStep("subject", "Patient"),
        ChainStep("organization", "Organization"),
        ChainStep("partof", "Organization"),
        ChainStep("partof", "Organization"),
    ),
}


@pytest.mark.parametrize("depth", sorted(CHAINS))
async def test_a_chain_walk_starts_at_the_terminal_matches(
    engine: tuple[FalkorGraph, AsyncGraph], depth: int
) -> None:
    _, graph = engine
    path = chain_path(ChainWalk("Observation", CHAINS[depth], ("org-1",)), REGISTRY)
    query, params = walk_statement(path)
    plan = await plan_of(graph, query, {**params, "tenant": "t", "limit": 10})
    assert plan[-1].startswith("Node By Index Scan | (n0:Resource)")
    assert sum(op.startswith("Conditional Traverse") for op in plan) == depth
    assert not any("Scan" in op for op in plan[:-1])  # nothing else is scanned


async def test_a_nested_has_walk_starts_at_the_innermost_matches(
    engine: tuple[FalkorGraph, AsyncGraph],
) -> None:
    _, graph = engine
    steps = (HasStep("Observation", "subject"), HasStep("DiagnosticReport", "result"))
    query, params = walk_statement(has_path(HasWalk("Patient", steps, ("dr-1",)), REGISTRY))
    plan = await plan_of(graph, query, {**params, "tenant": "t", "limit": 10})
    assert plan[-1].startswith("Node By Index Scan | (n0:Resource)")
    assert not any("Scan" in op for op in plan[:-1])


async def test_the_compartment_starts_at_the_patients(
    engine: tuple[FalkorGraph, AsyncGraph],
) -> None:
    _, graph = engine
    params = {
        "tenant": "t",
        "ids": ["p1"],
        "links": list(compartment_links(None, REGISTRY)),
        "with_patients": True,
        "since": None,
        "after_type": None,
        "after_id": None,
    }
    plan = await plan_of(graph, COMPARTMENT, params)
    scans = [op for op in plan if "Scan" in op]
    assert scans and all(op.startswith("Node By Index Scan | (p:Resource)") for op in scans)
