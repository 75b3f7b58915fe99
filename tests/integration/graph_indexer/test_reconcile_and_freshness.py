"""What the reconciler and the freshness waits need from the graph: versions, scan,
remove, drop_tenant, positions, wait_positions and wait_applied (FalkorDB, and Neo4j
when a URI is given)."""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_core.contracts.graph_index import ChainStep, ChainWalk
from polyfhir_core.contracts.secondary import AppliedVersion, IndexedVersion
from polyfhir_core.resources import ResourceKey
from polyfhir_graph.adapters import cypher

pytestmark = pytest.mark.integration

SUBJECT = (ChainStep("subject", "Patient"),)


async def test_scan_pages_live_nodes_and_tombstones_in_key_order(harness: Any, gx: Any) -> None:
    h = harness
    await h.apply(
        h.put("Observation", "b", 1, subject=gx.ref("Patient/p1")),
        h.put("Observation", "a", 2, subject=gx.ref("Patient/p1")),
        h.delete("Encounter", "e", 3),
    )
    # Patient/p1 is referenced but was never applied: a placeholder, not an entry
    first = await h.service.scan(h.ctx, None, 2)
    assert first == [
        IndexedVersion("Encounter", "e", 3, True),
        IndexedVersion("Observation", "a", 2),
    ]
    rest = await h.service.scan(h.ctx, ResourceKey("Observation", "a"), 10)
    assert rest == [IndexedVersion("Observation", "b", 1)]


async def test_remove_forgets_a_resource_but_keeps_what_others_reference(
    harness: Any, gx: Any
) -> None:
    h = harness
    await h.apply(
        h.put("Patient", "p1", 1),
        h.put("Observation", "a", 1, subject=gx.ref("Patient/p1")),
        h.put("Observation", "b", 1, subject=gx.ref("Patient/p1")),
    )
    keys = [ResourceKey("Observation", "a"), ResourceKey("Patient", "p1")]
    assert await h.service.remove(h.ctx, keys) == 2
    assert await h.service.versions(h.ctx, keys) == []
    walk = ChainWalk("Observation", SUBJECT, ("p1",))
    assert (await h.service.chain_sources(h.ctx, walk)).ids == ("b",)
    # applying the primary's versions again (a rebuild) restores them
    await h.apply(
        h.put("Patient", "p1", 1), h.put("Observation", "a", 1, subject=gx.ref("Patient/p1"))
    )
    assert (await h.service.chain_sources(h.ctx, walk)).ids == ("a", "b")


async def test_drop_tenant_empties_only_that_tenant(graph_store: Any, gx: Any) -> None:
    one, two = gx.Harness(graph_store, gx.unique("a")), gx.Harness(graph_store, gx.unique("b"))
    for h in (one, two):
        await h.apply(
            h.put("Observation", "a", 1, subject=gx.ref("Patient/p1")), h.delete("Patient", "x", 2)
        )
    assert await one.service.drop_tenant(one.ctx) == 2
    assert (await one.service.stats(one.ctx)).resources == 0
    stats = await two.service.stats(two.ctx)
    assert (stats.resources, stats.tombstones, stats.references) == (1, 1, 1)


async def test_positions_only_rise_and_waiters_see_them(harness: Any, gx: Any) -> None:
    h = harness
    await h.apply_at(
        gx.delivery(h.put("Patient", "p1", 1), 0, 5), gx.delivery(h.put("Patient", "p2", 1), 1, 2)
    )
    await h.apply_at(gx.delivery(h.put("Patient", "p1", 1), 0, 3))  # a replay
    assert await h.service.positions(h.ctx) == {0: 5, 1: 2}
    assert await h.service.wait_positions(h.ctx, {0: 5, 1: 2, 2: 0}, 0)
    assert not await h.service.wait_positions(h.ctx, {0: 6}, 50)
    applied = [AppliedVersion("Patient", "p1", 1), AppliedVersion("Patient", "p2", 1)]
    assert await h.service.wait_applied(h.ctx, applied, 0)
    assert not await h.service.wait_applied(h.ctx, [AppliedVersion("Patient", "p1", 2)], 50)


async def test_a_large_tenant_is_dropped_in_slices(
    graph_store: Any, gx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cypher, "DELETE_SLICE", 4)  # 11 nodes (10 and a placeholder): 3 slices
    one, two = gx.Harness(graph_store, gx.unique("a")), gx.Harness(graph_store, gx.unique("b"))
    for h in (one, two):
        await h.apply(
            *(h.put("Observation", f"o{n}", 1, subject=gx.ref("Patient/p")) for n in range(10))
        )
    assert await one.service.drop_tenant(one.ctx) == 10
    assert (await one.service.stats(one.ctx)).resources == 0
    assert await one.service.scan(one.ctx, None, 100) == []
    assert (await two.service.stats(two.ctx)).references == 10
