"""The batch handler over the in-memory graph (unit): outcomes, dead letters, positions."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.graph_store import MemoryGraph
from polyfhir_bus.consumer import Batch
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.contracts.graph_index import ChainStep, ChainWalk
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.tenancy import TenantContext
from polyfhir_graph.service_layer.graph_service import GraphService, compartment_links
from polyfhir_graph.service_layer.indexer import Indexer

pytestmark = pytest.mark.unit
REGISTRY = SearchParameterRegistry.default()


def _wired(store: MemoryGraph) -> tuple[Indexer, GraphService]:
    freshness = Freshness(store, recheck_s=0.01)
    return Indexer(store, freshness, REGISTRY), GraphService(store, freshness, REGISTRY)


async def test_only_the_latest_version_per_resource_is_written(ev: Any) -> None:
    store = MemoryGraph()
    indexer, service = _wired(store)
    subject = {"subject": {"reference": "Patient/p1"}}
    events = [ev.change("t", "a", v, subject, "Observation") for v in (1, 3, 2)]
    assert (
        await indexer(Batch([ev.delivery(e, 0, i + 1) for i, e in enumerate(events)], {0: 3})) == []
    )
    assert store.nodes["t", "Observation", "a"].version == 3
    assert await service.positions(TenantContext.of("t")) == {0: 3}
    walk = ChainWalk("Observation", (ChainStep("subject", "Patient"),), ("p1",))
    assert (await service.chain_sources(TenantContext.of("t"), walk)).ids == ("a",)


async def test_a_refused_record_is_dead_lettered_and_the_rest_applied(ev: Any) -> None:
    store = MemoryGraph(refuse=frozenset({"bad"}))
    indexer, _ = _wired(store)
    good, bad = ev.change("t", "good", 1, {}, "Patient"), ev.change("t", "bad", 1, {}, "Patient")
    rejected = await indexer(Batch([ev.delivery(good, 0, 1), ev.delivery(bad, 0, 2)], {0: 2}))
    assert [r.delivery.event.resource_id for r in rejected] == ["bad"]
    assert "refused" in rejected[0].reason
    assert ("t", "Patient", "good") in store.nodes
    assert store.apply_calls == [2, 1, 1]  # the batch, then one record at a time
    assert store.stored_positions == {0: 2}  # handled, so the position moves on


def test_compartment_links_name_the_edges_the_parameters_read() -> None:
    links = compartment_links(("Encounter", "Observation"), REGISTRY)
    assert "Encounter|subject" in links  # Encounter.patient: subject to a Patient
    assert {"Observation|subject", "Observation|performer"} <= set(links)
    assert all(link.split("|")[0] in {"Encounter", "Observation"} for link in links)
