"""A walk's fan-out per level for the cost model, from the graph's per-parameter counts,
kept a while per tenant."""

from __future__ import annotations

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

pytestmark = pytest.mark.unit
REGISTRY = SearchParameterRegistry.default()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _graph() -> tuple[Indexer, GraphService]:
    store = MemoryGraph()
    freshness = Freshness(store, recheck_s=0.01)
    return Indexer(store, freshness, REGISTRY), GraphService(store, freshness, REGISTRY)


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
    indexer, graph = _graph()
    await _write(indexer, _world())
    clock = Clock()
    fanout, ctx = GraphFanout(ttl_s=60, clock=clock), TenantContext.of("t")
    assert CHAIN is not None
    held = await fanout.of(ctx, "graph", graph, CHAIN, "Observation")
    more = {"subject": _ref("Patient/p0")}
    await _write(indexer, [ev.change("t", f"x{n}", 1, more, "Observation") for n in range(4)], 100)
    assert await fanout.of(ctx, "graph", graph, CHAIN, "Observation") == held  # kept
    clock.now = 61
    assert await fanout.of(ctx, "graph", graph, CHAIN, "Observation") == (2.0, 4.0)
    assert await fanout.of(TenantContext.of("empty"), "graph", graph, CHAIN, "Observation") is None
