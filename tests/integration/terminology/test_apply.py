"""Applying change events to the terminology store, on SQLite and PostgreSQL: the version
guard, tombstones, dead letters, tenant isolation, the reconciler's calls, stats."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.events import change
from fakes.terminology_data import DISORDERS, disorders, is_a, value_set
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.contracts.terminology import (
    CodeSetKind,
    CodeSetRequest,
    ExpandRequest,
    LookupRequest,
    LookupResult,
)
from polyfhir_core.errors import NotFound
from polyfhir_core.resources import ResourceKey

pytestmark = pytest.mark.integration


def renamed(display: str) -> dict[str, Any]:
    cs = disorders()
    cs["concept"][1]["display"] = display  # COVID
    return cs


async def display_of(h: Any, code: str = "COVID") -> str | None:
    result: LookupResult = await h.service.lookup(h.ctx, LookupRequest(DISORDERS, code))
    return result.display


async def test_an_older_version_never_overwrites_a_newer_one(harness: Any) -> None:
    h = harness
    await h.apply(h.put("cs", 3, renamed("three")))
    await h.apply(h.put("cs", 2, renamed("two")))
    assert await display_of(h) == "three"
    await h.apply(h.put("cs", 3, renamed("three")))  # a redelivery
    assert await display_of(h) == "three"
    assert (await h.service.stats(h.ctx)).concepts == 8


async def test_only_the_newest_version_in_a_batch_is_written(harness: Any) -> None:
    h = harness
    await h.apply(
        h.put("cs", 1, renamed("one")),
        h.put("cs", 4, renamed("four")),
        h.put("cs", 2, renamed("two")),
    )
    assert await display_of(h) == "four"


async def test_a_tombstone_removes_the_definition_and_stays(harness: Any) -> None:
    h = harness
    await h.apply(
        h.put("cs", 1, disorders()), h.put("vs", 1, value_set("http://x/vs", [is_a("INF")]))
    )
    assert (await h.service.expand(h.ctx, ExpandRequest(value_set_url="http://x/vs"))).total == 6
    await h.apply(h.delete("CodeSystem", "cs", 2))
    with pytest.raises(NotFound):
        await display_of(h)
    with pytest.raises(NotFound):  # the cached expansion went with it
        await h.service.expand(h.ctx, ExpandRequest(value_set_url="http://x/vs"))
    await h.apply(h.put("cs", 1, disorders()))  # a late older version does not resurrect it
    with pytest.raises(NotFound):
        await display_of(h)
    held = await h.service.versions(h.ctx, [ResourceKey("CodeSystem", "cs")])
    assert [(v.version, v.deleted) for v in held] == [(2, True)]


async def test_a_code_system_without_url_is_dead_lettered_alone(harness: Any) -> None:
    h = harness
    bad = h.put("bad", 1, {"resourceType": "CodeSystem", "concept": [{"code": "x"}]})
    assert await h.apply(bad, h.put("cs", 1, disorders())) == ["bad"]
    assert await display_of(h) == "Coronavirus disease"


async def test_other_resource_types_are_not_stored(harness: Any) -> None:
    h = harness
    patient = change(h.tenant, "p1", 1, {"active": True}, resource_type="Patient")
    assert await h.apply(patient) == []
    assert await h.service.versions(h.ctx, [ResourceKey("Patient", "p1")]) == []


async def test_a_tenant_never_sees_another_tenants_definitions(harness: Any, th: Any) -> None:
    h, other = harness, th(harness.store)
    await h.apply(
        h.put("cs", 1, disorders()), h.put("vs", 1, value_set("http://x/vs", [is_a("INF")]))
    )
    with pytest.raises(NotFound):
        await other.service.expand(other.ctx, ExpandRequest(value_set_url="http://x/vs"))
    with pytest.raises(NotFound):
        await other.service.expand(other.ctx, ExpandRequest(value_set_id="vs"))
    with pytest.raises(NotFound):
        await display_of(other)
    inline = value_set("u", [is_a("INF")])
    with pytest.raises(NotFound):
        await other.service.expand(other.ctx, ExpandRequest(value_set=inline))
    await other.apply(other.put("cs", 1, renamed("the other tenant's")))
    assert await display_of(h) == "Coronavirus disease"
    assert await display_of(other) == "the other tenant's"
    assert (await other.service.stats(other.ctx)).value_sets == 0


async def test_reconciler_calls_versions_scan_remove_and_drop(harness: Any) -> None:
    h = harness
    await h.apply(
        h.put("cs", 2, disorders()), h.put("vs", 1, value_set("http://x/vs", [is_a("INF")]))
    )
    scanned = await h.service.scan(h.ctx, None, 10)
    assert [(v.resource_type, v.id, v.version) for v in scanned] == [
        ("CodeSystem", "cs", 2),
        ("ValueSet", "vs", 1),
    ]
    after = await h.service.scan(h.ctx, ResourceKey("CodeSystem", "cs"), 10)
    assert [v.id for v in after] == ["vs"]
    assert await h.service.wait_applied(h.ctx, [AppliedVersion("CodeSystem", "cs", 2)], 0)
    assert not await h.service.wait_applied(h.ctx, [AppliedVersion("CodeSystem", "cs", 3)], 0)
    assert (
        await h.service.remove(
            h.ctx, [ResourceKey("CodeSystem", "cs"), ResourceKey("CodeSystem", "x")]
        )
        == 1
    )
    with pytest.raises(NotFound):
        await display_of(h)
    assert await h.service.drop_tenant(h.ctx) == 1
    stats = await h.service.stats(h.ctx)
    assert (stats.code_systems, stats.value_sets, stats.concepts) == (0, 0, 0)


async def test_stats_count_the_tenants_definitions(harness: Any) -> None:
    h = harness
    await h.apply(
        h.put("cs", 1, disorders()), h.put("vs", 1, value_set("http://x/vs", [is_a("INF")]))
    )
    stats = await h.service.stats(h.ctx)
    assert (stats.code_systems, stats.value_sets, stats.concept_maps, stats.concepts) == (
        1,
        1,
        0,
        8,
    )


async def test_a_wait_for_another_resource_type_is_answered_at_once(harness: Any) -> None:
    h = harness  # SyncMode waits for every write; this index holds no Patients
    await h.apply(h.put("cs", 1, disorders()))
    assert await h.service.wait_applied(h.ctx, [AppliedVersion("Patient", "p1", 7)], 0)
    mixed = [AppliedVersion("Patient", "p1", 7), AppliedVersion("CodeSystem", "cs", 2)]
    assert not await h.service.wait_applied(h.ctx, mixed, 0)


def _large_code_system(chapters: int, per_chapter: int) -> dict[str, Any]:
    concept = [
        {
            "code": f"CH{c}",
            "display": f"Chapter {c}",
            "concept": [
                {"code": f"C{c}.{i}", "display": f"Condition {c} {i}"} for i in range(per_chapter)
            ],
        }
        for c in range(chapters)
    ]
    return {"resourceType": "CodeSystem", "url": "http://x/large", "concept": concept}


async def test_a_large_code_system_loads_in_batches_and_answers(harness: Any) -> None:
    h = harness  # past the size after which the statistics are refreshed (PostgreSQL)
    assert await h.apply(h.put("large", 1, _large_code_system(12, 1_000))) == []
    assert (await h.service.stats(h.ctx)).concepts == 12_012
    below = await h.service.code_set(
        h.ctx, CodeSetRequest(CodeSetKind.BELOW, system="http://x/large", code="CH3")
    )
    assert len(below.codes) == 1_001 and below.complete
    looked_up = await h.service.lookup(h.ctx, LookupRequest("http://x/large", "CH7"))
    assert len([p for p in looked_up.properties if p.code == "child"]) == 1_000
