"""The graph's fan-out for the cost model: references per live resource, kept a while."""

from __future__ import annotations

import pytest

from fakes import events as ev
from fakes.graph_store import MemoryGraph
from polyfhir_bus.consumer import Batch
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline.graph_fanout import GraphFanout
from polyfhir_graph.service_layer.graph_service import GraphService
from polyfhir_graph.service_layer.indexer import Indexer

pytestmark = pytest.mark.unit
REGISTRY = SearchParameterRegistry.default()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_fanout_is_references_per_resource_and_cached_per_tenant() -> None:
    store = MemoryGraph()
    freshness = Freshness(store, recheck_s=0.01)
    indexer, graph = Indexer(store, freshness, REGISTRY), GraphService(store, freshness, REGISTRY)
    subject = {"subject": {"reference": "Patient/p"}}
    events = [
        ev.change("t", "p", 1, {}, "Patient"),
        ev.change("t", "o1", 1, subject, "Observation"),
        ev.change("t", "o2", 1, subject, "Observation"),
        ev.change("t", "o3", 1, subject, "Observation"),
    ]
    assert await indexer(Batch([ev.delivery(e, 0, i + 1) for i, e in enumerate(events)], {})) == []
    clock = Clock()
    fanout = GraphFanout(ttl_s=60, clock=clock)
    ctx = TenantContext.of("t")
    held = await fanout.of(ctx, "graph", graph)
    assert held is not None and held > 0
    more = ev.change("t", "o4", 1, subject, "Observation")
    assert await indexer(Batch([ev.delivery(more, 0, 5)], {})) == []
    assert await fanout.of(ctx, "graph", graph) == held  # kept for ttl_s
    clock.now = 61
    assert (await fanout.of(ctx, "graph", graph) or 0) > held
    assert await fanout.of(TenantContext.of("empty"), "graph", graph) is None
