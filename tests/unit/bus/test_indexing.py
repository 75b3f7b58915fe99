"""The indexer kit (``polyfhir_bus.indexing``): what every indexer on it does the same,
and the names it exports staying what the deployment reads."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from fakes import events as ev
from fakes.indexing import MemoryIndex, MemoryIndexer
from polyfhir_bus.consumer import Batch
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_bus.indexing.metrics import IndexerMetrics
from polyfhir_bus.indexing.queries import IndexQueries
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.errors import BadRequest
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext
from polyfhir_graph import metrics as graph_metrics
from polyfhir_graph.settings import GraphSettings
from polyfhir_search import metrics as search_metrics
from polyfhir_search.settings import SearchSettings

pytestmark = pytest.mark.unit
KIT_METRICS = IndexerMetrics.create("kittest", visible_as="readable")
SHARED_FAMILIES = {
    "events": ("counter", ("outcome",)),
    "batch_size": ("histogram", ()),
    "apply_seconds": ("histogram", ()),
    "sync_lag_seconds": ("histogram", ()),
    "applied_position": ("gauge", ("partition",)),
    "consumer_errors": ("counter", ("error",)),
}


def _families(prefix: str) -> dict[str, str]:
    return {
        m.name: m.type
        for m in REGISTRY.collect()
        if m.name.startswith(prefix) and not m.name.startswith(f"{prefix}not_")
    }


@pytest.mark.parametrize("name", ["search", "graph"])
def test_each_indexer_exports_the_shared_families_under_its_own_name(name: str) -> None:
    families = _families(f"polyfhir_{name}_")
    for family, (kind, _labels) in SHARED_FAMILIES.items():
        assert families[f"polyfhir_{name}_{family}"] == kind
    indexer = search_metrics.INDEXER if name == "search" else graph_metrics.INDEXER
    assert indexer.events._labelnames == ("outcome",)
    assert indexer.applied_position._labelnames == ("partition",)
    assert indexer.consumer_errors._labelnames == ("error",)


def test_only_the_search_indexer_has_gap_and_refusal_counters() -> None:
    assert "polyfhir_search_position_gaps" in _families("polyfhir_search_")
    assert "polyfhir_search_not_fresh_refusals" in {m.name for m in REGISTRY.collect()}
    assert not any("position_gaps" in n for n in _families("polyfhir_graph_"))


def test_settings_names_and_defaults_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYFHIR_BATCH_SIZE", "7")
    monkeypatch.setenv("POLYFHIR_KAFKA_BOOTSTRAP", "broker:9092")
    search, graph = SearchSettings(), GraphSettings()
    assert (search.batch_size, graph.batch_size) == (7, 7)
    assert search.kafka_bootstrap == graph.kafka_bootstrap == "broker:9092"
    assert (search.consumer_group, search.port) == ("polyfhir-search-indexer", 8082)
    assert (graph.consumer_group, graph.port) == ("polyfhir-graph-indexer", 8083)
    shared = {
        "kafka_bootstrap", "kafka_topic_partitions", "consumer_group", "resource_changes_topic",
        "dead_letter_topic", "batch_size", "batch_max_wait_ms", "startup_timeout_s",
        "log_level", "host", "port",
    }  # fmt: skip
    assert shared <= set(SearchSettings.model_fields) & set(GraphSettings.model_fields)
    assert "primary_store_url" in SearchSettings.model_fields


def _wired(index: MemoryIndex) -> tuple[MemoryIndexer, IndexQueries]:
    freshness = Freshness(index, recheck_s=0.01)
    return MemoryIndexer(index, freshness, KIT_METRICS), IndexQueries(index, freshness)


async def test_a_new_indexer_writes_the_newest_version_and_dead_letters_refusals() -> None:
    index = MemoryIndex(refuse=frozenset({"bad"}))
    indexer, _ = _wired(index)
    events = [ev.change("t", "a", v, {}, "Patient") for v in (1, 3, 2)]
    events.append(ev.change("t", "bad", 1, {}, "Patient"))
    deliveries = [ev.delivery(e, 0, i + 1) for i, e in enumerate(events)]
    rejected = await indexer(Batch(deliveries, {0: 4}))
    assert [(r.delivery.event.resource_id, r.reason) for r in rejected] == [
        ("bad", "rejected by the memory engine")
    ]
    assert index.entries["t", "Patient", "a"].version == 3
    assert index.stored_positions == {0: 4}


async def test_a_delete_leaves_a_tombstone_with_its_version() -> None:
    index = MemoryIndex()
    indexer, queries = _wired(index)
    created, deleted = (
        ev.change("t", "a", 1, {}, "Patient"),
        ev.change("t", "a", 2, None, "Patient"),
    )
    await indexer(Batch([ev.delivery(created, 0, 1), ev.delivery(deleted, 0, 2)], {0: 2}))
    assert index.entries["t", "Patient", "a"].deleted
    held = await queries.versions(TenantContext.of("t"), [ResourceKey("Patient", "a")])
    assert [h.version for h in held] == [2]


async def test_a_waiter_is_woken_by_the_batch_it_waits_for() -> None:
    index = MemoryIndex()
    indexer, queries = _wired(index)
    ctx = TenantContext.of("t")
    waiting = asyncio.create_task(
        queries.wait_applied(ctx, [AppliedVersion("Patient", "w", 1)], 10_000)
    )
    assert not await queries.wait_positions(ctx, {0: 1}, 0)
    await indexer(Batch([ev.delivery(ev.change("t", "w", 1, {}, "Patient"), 0, 1)], {0: 1}))
    assert await waiting
    assert await queries.wait_positions(ctx, {0: 1}, 0)
    assert await queries.wait_positions(ctx, {5: 0}, 0)  # nothing published there


async def test_queries_refuse_too_many_keys_and_stay_in_the_tenant() -> None:
    index = MemoryIndex()
    indexer, queries = _wired(index)
    for tenant in ("t1", "t2"):
        await indexer(Batch([ev.delivery(ev.change(tenant, "p", 1, {}, "Patient"), 0, 1)], {}))
    with pytest.raises(BadRequest):
        await queries.versions(TenantContext.of("t1"), [ResourceKey("Patient", "x")] * 10_001)
    assert await queries.drop_tenant(TenantContext.of("t1")) == 1
    assert [v.id for v in await queries.scan(TenantContext.of("t2"), None, 10)] == ["p"]
