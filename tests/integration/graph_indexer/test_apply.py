"""Applying change events builds the reference graph, idempotently, and never regresses it.

Every test runs over FalkorDB, and over Neo4j when ``POLYFHIR_TEST_NEO4J_URI`` is set.
"""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_core.contracts.graph_index import (
    ChainStep,
    ChainWalk,
    HasStep,
    HasWalk,
    LinkCount,
)
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.resources import ResourceKey

pytestmark = pytest.mark.integration

SUBJECT_OF_PATIENT = (ChainStep("subject", "Patient"),)
SUBJECT_ORGANIZATION = (ChainStep("subject", "Patient"), ChainStep("organization", "Organization"))


async def chain(h: Any, steps: tuple[ChainStep, ...], *targets: str) -> list[str]:
    hits = await h.service.chain_sources(h.ctx, ChainWalk("Observation", steps, targets))
    assert hits.complete
    return list(hits.ids)


async def held(h: Any, rtype: str, rid: str) -> list[IndexedVersion]:
    found: list[IndexedVersion] = await h.service.versions(h.ctx, [ResourceKey(rtype, rid)])
    return found


async def test_a_two_level_chain_walks_back_from_the_terminal_ids(harness: Any, gx: Any) -> None:
    h = harness
    await h.apply(
        h.put("Organization", "o1", 1, name="Acme"),
        h.put("Patient", "p1", 1, managingOrganization=gx.ref("Organization/o1")),
        h.put("Patient", "p2", 1, managingOrganization=gx.ref("Organization/o2")),
        h.put("Observation", "a", 1, subject=gx.ref("Patient/p1"), status="final"),
        h.put("Observation", "b", 1, subject=gx.ref("Patient/p2"), status="final"),
        h.put("Observation", "c", 1, subject=gx.ref("Patient/p1"), status="final"),
    )
    assert await chain(h, SUBJECT_ORGANIZATION, "o1") == ["a", "c"]
    assert await chain(h, SUBJECT_ORGANIZATION, "o1", "o2") == ["a", "b", "c"]
    assert await chain(h, SUBJECT_OF_PATIENT, "p2") == ["b"]
    stats = await h.service.stats(h.ctx)
    assert (stats.resources, stats.tombstones, stats.references) == (6, 0, 5)
    # the shape the router prices each step of a walk with (o2 is only referenced)
    assert stats.types == {"Organization": 1, "Patient": 2, "Observation": 3}
    assert stats.links == (
        LinkCount("Observation", "subject", "Patient", 3),
        LinkCount("Patient", "organization", "Organization", 2),
    )


async def test_a_newer_version_replaces_the_edges(harness: Any, gx: Any) -> None:
    h = harness
    await h.apply(h.put("Observation", "a", 1, subject=gx.ref("Patient/p1")))
    await h.apply(h.put("Observation", "a", 2, subject=gx.ref("Patient/p2")))
    assert await chain(h, SUBJECT_OF_PATIENT, "p1") == []
    assert await chain(h, SUBJECT_OF_PATIENT, "p2") == ["a"]
    assert await held(h, "Observation", "a") == [IndexedVersion("Observation", "a", 2)]


async def test_duplicates_leave_one_node_and_one_edge(harness: Any, gx: Any) -> None:
    h = harness
    event = h.put("Observation", "a", 1, subject=gx.ref("Patient/p1"))
    await h.apply(event)
    await h.apply(event, event)
    assert await chain(h, SUBJECT_OF_PATIENT, "p1") == ["a"]
    stats = await h.service.stats(h.ctx)
    assert (stats.resources, stats.references) == (1, 1)


async def test_an_older_version_never_overwrites_a_newer_one(harness: Any, gx: Any) -> None:
    h = harness
    await h.apply(h.put("Observation", "a", 3, subject=gx.ref("Patient/p3")))
    await h.apply(h.put("Observation", "a", 2, subject=gx.ref("Patient/p2")))
    assert await chain(h, SUBJECT_OF_PATIENT, "p2") == []
    assert await chain(h, SUBJECT_OF_PATIENT, "p3") == ["a"]
    assert await held(h, "Observation", "a") == [IndexedVersion("Observation", "a", 3)]


async def test_the_highest_version_in_a_batch_wins(harness: Any, gx: Any) -> None:
    h = harness
    await h.apply(
        h.put("Observation", "a", 2, subject=gx.ref("Patient/p2")),
        h.put("Observation", "a", 4, subject=gx.ref("Patient/p4")),
        h.put("Observation", "a", 3, subject=gx.ref("Patient/p3")),
    )
    assert await chain(h, SUBJECT_OF_PATIENT, "p2", "p3") == []
    assert await chain(h, SUBJECT_OF_PATIENT, "p4") == ["a"]


async def test_a_tombstone_removes_the_edges_and_blocks_older_versions(
    harness: Any, gx: Any
) -> None:
    h = harness
    await h.apply(h.put("Observation", "a", 1, subject=gx.ref("Patient/p1")))
    await h.apply(h.delete("Observation", "a", 2))
    await h.apply(h.put("Observation", "a", 1, subject=gx.ref("Patient/p1")))
    assert await chain(h, SUBJECT_OF_PATIENT, "p1") == []
    assert await held(h, "Observation", "a") == [IndexedVersion("Observation", "a", 2, True)]
    stats = await h.service.stats(h.ctx)
    assert (stats.resources, stats.tombstones, stats.references) == (0, 1, 0)
    await h.apply(h.put("Observation", "a", 3, subject=gx.ref("Patient/p1")))
    assert await chain(h, SUBJECT_OF_PATIENT, "p1") == ["a"]


async def test_a_deleted_link_in_the_middle_breaks_the_chain(harness: Any, gx: Any) -> None:
    h = harness
    await h.apply(
        h.put("Patient", "p1", 1, managingOrganization=gx.ref("Organization/o1")),
        h.put("Observation", "a", 1, subject=gx.ref("Patient/p1")),
    )
    await h.apply(h.delete("Patient", "p1", 2))
    assert await chain(h, SUBJECT_ORGANIZATION, "o1") == []


async def test_replaying_the_whole_stream_changes_nothing(harness: Any, gx: Any) -> None:
    h = harness
    stream = [
        h.put("Patient", "p1", 1, managingOrganization=gx.ref("Organization/o1")),
        h.put("Observation", "a", 1, subject=gx.ref("Patient/p1")),
        h.put("Observation", "a", 2, subject=gx.ref("Patient/p2")),
        h.put("Observation", "b", 1, subject=gx.ref("Patient/p1")),
        h.delete("Observation", "b", 2),
    ]
    for event in stream:
        await h.apply(event)
    before = (await h.service.scan(h.ctx, None, 100), await h.service.stats(h.ctx))
    await h.apply(*stream)
    for event in reversed(stream):
        await h.apply(event)
    assert (await h.service.scan(h.ctx, None, 100), await h.service.stats(h.ctx)) == before
    assert await chain(h, SUBJECT_ORGANIZATION, "o1") == []
    assert await chain(h, SUBJECT_OF_PATIENT, "p2") == ["a"]


async def test_a_chain_never_crosses_tenants(graph_store: Any, gx: Any) -> None:
    ours, theirs = gx.Harness(graph_store, gx.unique("a")), gx.Harness(graph_store, gx.unique("b"))
    await ours.apply(ours.put("Observation", "mine", 1, subject=gx.ref("Patient/p1")))
    await theirs.apply(
        theirs.put("Patient", "p1", 1, managingOrganization=gx.ref("Organization/o1")),
        theirs.put("Observation", "theirs", 1, subject=gx.ref("Patient/p1")),
    )
    assert await chain(ours, SUBJECT_OF_PATIENT, "p1") == ["mine"]
    assert await chain(theirs, SUBJECT_OF_PATIENT, "p1") == ["theirs"]
    # the other tenant's Patient p1 references o1: our Observation must not reach it
    assert await chain(ours, SUBJECT_ORGANIZATION, "o1") == []
    assert await chain(theirs, SUBJECT_ORGANIZATION, "o1") == ["theirs"]
    assert await ours.service.drop_tenant(ours.ctx) == 1
    assert await chain(theirs, SUBJECT_OF_PATIENT, "p1") == ["theirs"]


async def test_has_walks_along_the_references_nested(harness: Any, gx: Any) -> None:
    h = harness
    await h.apply(
        h.put("Observation", "o1", 1, subject=gx.ref("Patient/p1"), status="final"),
        h.put("Observation", "o2", 1, subject=gx.ref("Patient/p2"), status="final"),
        h.put("AuditEvent", "e1", 1, entity=[{"what": gx.ref("Observation/o2")}]),
    )
    one = HasWalk("Patient", (HasStep("Observation", "subject"),), ("o1", "o2"))
    assert (await h.service.has_targets(h.ctx, one)).ids == ("p1", "p2")
    nested = HasWalk(
        "Patient", (HasStep("Observation", "subject"), HasStep("AuditEvent", "entity")), ("e1",)
    )
    assert (await h.service.has_targets(h.ctx, nested)).ids == ("p2",)


async def test_a_walk_cut_at_its_limit_says_so(harness: Any, gx: Any) -> None:
    h = harness
    await h.apply(
        *(h.put("Observation", f"o{i}", 1, subject=gx.ref("Patient/p1")) for i in range(5))
    )
    hits = await h.service.chain_sources(
        h.ctx, ChainWalk("Observation", SUBJECT_OF_PATIENT, ("p1",), limit=3)
    )
    assert hits.ids == ("o0", "o1", "o2")
    assert not hits.complete


async def test_a_parameter_stored_as_another_reads_its_edges(harness: Any, gx: Any) -> None:
    """``patient`` of Observation is ``subject`` restricted to Patients: the same edges."""
    h = harness
    await h.apply(
        h.put("Observation", "a", 1, subject=gx.ref("Patient/p1")),
        h.put("Observation", "g", 1, subject=gx.ref("Group/p1")),
    )
    assert await chain(h, (ChainStep("patient", "Patient"),), "p1") == ["a"]
    assert await chain(h, (ChainStep("subject", "Group"),), "p1") == ["g"]
    assert await chain(h, (ChainStep("patient", "Group"),), "p1") == []
