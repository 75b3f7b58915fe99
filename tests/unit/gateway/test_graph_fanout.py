"""A walk's fan-out per level for the cost model, from the graph's per-parameter counts,
kept a while per tenant."""

from __future__ import annotations

import asyncio

import pytest

from fakes import events as ev
from fakes.graph_store import MemoryGraph
from polyfhir_bus.consumer import Batch
from polyfhir_bus.events import ResourceChanged
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.planning.reference_walks import chain_walk, has_walk
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.search import SearchParam
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline.graph_fanout import GraphFanout
from polyfhir_graph.service_layer.graph_service import GraphService
from polyfhir_graph.service_layer.indexer import Indexer
from polyfhir_graph.service_layer.ports import GraphCounts

pytestmark = pytest.mark.unit
REGISTRY = SearchParameterRegistry.default()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _graph(clock: Clock | None = None) -> tuple[Indexer, GraphService]:
    store = MemoryGraph()
    freshness = Freshness(store, recheck_s=0.01)
    graph = GraphService(store, freshness, REGISTRY, clock=clock or Clock())
    return Indexer(store, freshness, REGISTRY), graph


async def _write(indexer: Indexer, events: list[ResourceChanged], first: int = 1) -> None:
    deliveries = [ev.delivery(e, 0, first + i) for i, e in enumerate(events)]
    assert await indexer(Batch(deliveries, {})) == []


def _world() -> list[ResourceChanged]:
    """Two organizations; one holds four patients, each with three Observations."""
    events = [ev.change("t", f"org{n}", 1, {}, "Organization") for n in (1, 2)]
    for p in range(4):
        events.append(
            ev.change(
                "t", f"p{p}", 1, {"managingOrganization": _ref("Organization/org1")}, "Patient"
            )
        )
        subject = {"subject": _ref(f"Patient/p{p}")}
        events += [ev.change("t", f"o{p}-{o}", 1, subject, "Observation") for o in range(3)]
    return events


def _ref(reference: str) -> dict[str, str]:
    return {"reference": reference}


CHAIN = chain_walk(
    "Observation", SearchParam("subject", ("Acme",), "Patient.organization.name"), REGISTRY
)
HAS = has_walk(
    "Patient", SearchParam("_has", ("x|1",), modifier="Observation:subject:code"), REGISTRY
)


async def test_each_level_of_a_walk_has_its_own_fanout() -> None:
    indexer, graph = _graph()
    await _write(indexer, _world())
    fanout, ctx = GraphFanout(), TenantContext.of("t")
    assert CHAIN is not None and HAS is not None
    # back from an Organization: 4 patients per organization (2 organizations, 4 links),
    # then 3 Observations per patient
    assert await fanout.of(ctx, "graph", graph, CHAIN, "Observation") == (2.0, 3.0)
    # forward from an Observation: one patient each
    assert await fanout.of(ctx, "graph", graph, HAS, "Patient") == (1.0,)
    stats = await graph.stats(ctx)
    assert stats.types == {"Organization": 2, "Patient": 4, "Observation": 12}
    assert (stats.resources, stats.references) == (18, 16)


async def test_the_stats_are_kept_for_the_ttl_per_tenant() -> None:
    clock = Clock()  # the gateway's and the graph's: both keep what they counted
    indexer, graph = _graph(clock)
    await _write(indexer, _world())
    fanout = GraphFanout(ttl_s=60, clock=clock, shape_age_s=120)
    ctx = TenantContext.of("t")
    assert CHAIN is not None
    held = await fanout.of(ctx, "graph", graph, CHAIN, "Observation")
    more = {"subject": _ref("Patient/p0")}
    await _write(indexer, [ev.change("t", f"x{n}", 1, more, "Observation") for n in range(4)], 100)
    assert await fanout.of(ctx, "graph", graph, CHAIN, "Observation") == held  # kept
    clock.now = 61  # asked again; the graph's count (120 s) is still recent enough
    assert await fanout.of(ctx, "graph", graph, CHAIN, "Observation") == held
    clock.now = 122
    assert await fanout.of(ctx, "graph", graph, CHAIN, "Observation") == (2.0, 4.0)
    assert await fanout.of(TenantContext.of("empty"), "graph", graph, CHAIN, "Observation") is None


class GatedCounts(MemoryGraph):
    """Counts only when the test opens the gate, and says how often it counted."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.counted = 0

    async def count(self, tenant: str) -> GraphCounts:
        await self.gate.wait()
        self.counted += 1
        return await super().count(tenant)


async def test_a_count_the_router_stopped_waiting_for_serves_the_next_call() -> None:
    store = GatedCounts()
    freshness = Freshness(store, recheck_s=0.01)
    indexer, graph = Indexer(store, freshness, REGISTRY), GraphService(store, freshness, REGISTRY)
    await _write(indexer, _world())
    ctx = TenantContext.of("t")
    with pytest.raises(TimeoutError):  # the router's bound: the count goes on
        await asyncio.wait_for(graph.stats(ctx, max_age_s=300), 0.01)
    waiting = asyncio.create_task(graph.stats(ctx, max_age_s=300))
    store.gate.set()
    assert (await waiting).types["Observation"] == 12
    assert store.counted == 1  # the second call joined the first one's count
    await _write(indexer, [ev.change("t", "late", 1, {}, "Observation")], 100)
    assert (await graph.stats(ctx, max_age_s=300)).types["Observation"] == 12  # recent enough
    assert (await graph.stats(ctx)).types["Observation"] == 13  # max_age_s 0: counted now
    assert store.counted == 2
