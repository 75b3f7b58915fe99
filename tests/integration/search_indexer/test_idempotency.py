"""Applying change events is idempotent and never regresses (both adapters)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from polyfhir_core.contracts.search_index import TextClause, TextField, TextSearch
from polyfhir_core.contracts.secondary import AppliedVersion, IndexedVersion
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext

pytestmark = pytest.mark.integration


async def _ids(harness: Any, word: str) -> list[str]:
    request = TextSearch(("Condition",), (TextClause(TextField.NARRATIVE, (word,)),))
    return [h.id for h in (await harness.service.search_text(harness.ctx, request)).hits]


async def _held(harness: Any, rid: str) -> list[IndexedVersion]:
    held: list[IndexedVersion] = await harness.service.versions(
        harness.ctx, [ResourceKey("Condition", rid)]
    )
    return held


async def test_duplicate_events_give_one_hit(harness: Any, ev: Any) -> None:
    first = ev.change(harness.tenant, "a", 1, ev.narrative("measles"))
    await harness.apply(first)
    await harness.apply(first, first)
    assert await _ids(harness, "measles") == ["a"]
    assert await _held(harness, "a") == [IndexedVersion("Condition", "a", 1)]


async def test_an_older_version_never_overwrites_a_newer_one(harness: Any, ev: Any) -> None:
    await harness.apply(ev.change(harness.tenant, "a", 3, ev.narrative("mumps")))
    await harness.apply(ev.change(harness.tenant, "a", 2, ev.narrative("rubella")))
    assert await _ids(harness, "mumps") == ["a"]
    assert await _ids(harness, "rubella") == []
    assert await _held(harness, "a") == [IndexedVersion("Condition", "a", 3)]


async def test_the_highest_version_in_a_batch_wins(harness: Any, ev: Any) -> None:
    await harness.apply(
        ev.change(harness.tenant, "a", 2, ev.narrative("rubella")),
        ev.change(harness.tenant, "a", 4, ev.narrative("mumps")),
        ev.change(harness.tenant, "a", 3, ev.narrative("measles")),
    )
    assert await _ids(harness, "mumps") == ["a"]
    assert await _ids(harness, "rubella") == await _ids(harness, "measles") == []


async def test_a_tombstone_is_not_resurrected_by_an_older_update(harness: Any, ev: Any) -> None:
    await harness.apply(ev.change(harness.tenant, "a", 1, ev.narrative("tetanus")))
    await harness.apply(ev.change(harness.tenant, "a", 3, None))
    await harness.apply(ev.change(harness.tenant, "a", 2, ev.narrative("tetanus again")))
    assert await _ids(harness, "tetanus") == []
    assert await _held(harness, "a") == [IndexedVersion("Condition", "a", 3, deleted=True)]
    stats = await harness.service.stats(harness.ctx)
    assert (stats.documents, stats.tombstones) == (0, 1)
    # a real re-create after the delete (a newer version) is searchable again
    await harness.apply(ev.change(harness.tenant, "a", 4, ev.narrative("tetanus back")))
    assert await _ids(harness, "tetanus") == ["a"]


async def test_a_delete_arriving_first_still_wins(harness: Any, ev: Any) -> None:
    await harness.apply(ev.change(harness.tenant, "a", 2, None))
    await harness.apply(ev.change(harness.tenant, "a", 1, ev.narrative("pertussis")))
    assert await _ids(harness, "pertussis") == []


async def test_positions_only_rise(harness: Any, ev: Any) -> None:
    assert await harness.service.positions(harness.ctx) == {}
    e = ev.change(harness.tenant, "a", 1, ev.narrative("x"))
    await harness.apply_at(ev.delivery(e, 0, 7), ev.delivery(e, 1, 3), ev.delivery(e, 0, 5))
    assert await harness.service.positions(harness.ctx) == {0: 7, 1: 3}
    await harness.apply_at(ev.delivery(e, 0, 6), ev.delivery(e, 1, 4))
    assert await harness.service.positions(harness.ctx) == {0: 7, 1: 4}
    # another replica over the same index sees them too (read from the engine)
    replica = ev.Harness(harness.engine, harness.tenant)
    assert await replica.service.positions(TenantContext.of("any-tenant")) == {0: 7, 1: 4}
    assert (await replica.service.stats(harness.ctx)).positions == {0: 7, 1: 4}


async def test_wait_positions(harness: Any, ev: Any) -> None:
    service = harness.service
    assert await service.wait_positions(harness.ctx, {}, 0)
    assert await service.wait_positions(harness.ctx, {0: 0, 3: 0}, 0)  # nothing published
    assert not await service.wait_positions(harness.ctx, {0: 2}, 100)
    e = ev.change(harness.tenant, "a", 1, ev.narrative("x"))
    waiter = asyncio.create_task(service.wait_positions(harness.ctx, {0: 2, 1: 1}, 10_000))
    await harness.apply_at(ev.delivery(e, 0, 2))
    assert not waiter.done() or not waiter.result()  # partition 1 is still behind
    await harness.apply_at(ev.delivery(e, 1, 1))
    assert await waiter
    assert await service.wait_positions(harness.ctx, {0: 1}, 0)


async def test_wait_applied(harness: Any, ev: Any) -> None:
    service = harness.service
    want = [AppliedVersion("Condition", "a", 2)]
    assert not await service.wait_applied(harness.ctx, want, 100)
    waiter = asyncio.create_task(service.wait_applied(harness.ctx, want, 10_000))
    await harness.apply(ev.change(harness.tenant, "a", 1, ev.narrative("x")))
    await harness.apply(ev.change(harness.tenant, "a", 3, ev.narrative("x")))  # newer is fine
    assert await waiter
    assert await service.wait_applied(harness.ctx, [], 0)
    # another tenant's copy does not count
    assert not await service.wait_applied(TenantContext.of(ev.unique("other")), want, 50)


async def test_a_replica_that_does_not_consume_sees_the_wait_end(harness: Any, ev: Any) -> None:
    replica = ev.Harness(harness.engine, harness.tenant)  # its own Freshness: never notified
    waiter = asyncio.create_task(
        replica.service.wait_applied(harness.ctx, [AppliedVersion("Condition", "b", 1)], 10_000)
    )
    e = ev.change(harness.tenant, "b", 1, ev.narrative("x"))
    await harness.apply_at(ev.delivery(e, 0, 9))
    assert await waiter
    assert await replica.service.wait_positions(harness.ctx, {0: 9}, 10_000)


async def test_scan_remove_and_drop_tenant(harness: Any, ev: Any) -> None:
    t = harness.tenant
    await harness.apply(
        ev.change(t, "b", 1, ev.narrative("x")),
        ev.change(t, "a", 2, None),
        ev.change(t, "c", 1, ev.narrative("x")),
        ev.change(t, "p", 1, {"active": True}, "Patient"),
    )
    other = ev.unique("other")
    await harness.apply(ev.change(other, "a", 1, ev.narrative("x")))
    everything = await harness.service.scan(TenantContext.of(t), None, 10)
    assert [(v.resource_type, v.id, v.version, v.deleted) for v in everything] == [
        ("Condition", "a", 2, True),
        ("Condition", "b", 1, False),
        ("Condition", "c", 1, False),
        ("Patient", "p", 1, False),
    ]
    page = await harness.service.scan(TenantContext.of(t), ResourceKey("Condition", "a"), 2)
    assert [v.id for v in page] == ["b", "c"]
    assert [
        v.id
        for v in await harness.service.scan(TenantContext.of(t), ResourceKey("Condition", "c"), 2)
    ] == ["p"]
    removed = await harness.service.remove(
        TenantContext.of(t), [ResourceKey("Condition", "b"), ResourceKey("Condition", "zz")]
    )
    assert removed == 1
    assert (
        await harness.service.versions(TenantContext.of(t), [ResourceKey("Condition", "b")]) == []
    )
    assert await harness.service.drop_tenant(TenantContext.of(t)) == 3
    assert await harness.service.scan(TenantContext.of(t), None, 10) == []
    assert [v.id for v in await harness.service.scan(TenantContext.of(other), None, 10)] == ["a"]


async def test_a_rebuild_writes_the_same_versions_back(harness: Any, ev: Any) -> None:
    """drop_tenant, then the primary republishes the current versions: they are indexed
    again although the engine still remembers the deleted documents' versions."""
    current = [ev.change(harness.tenant, rid, 3, ev.narrative("scarlet fever")) for rid in "ab"]
    await harness.apply(*current)
    assert await harness.service.drop_tenant(harness.ctx) == 2
    assert await _ids(harness, "fever") == []
    await harness.apply(*current)
    assert sorted(await _ids(harness, "fever")) == ["a", "b"]
    assert await harness.service.remove(harness.ctx, [ResourceKey("Condition", "a")]) == 1
    await harness.apply(current[0])
    await harness.apply(ev.change(harness.tenant, "a", 2, ev.narrative("older")))  # still refused
    assert sorted(await _ids(harness, "fever")) == ["a", "b"]
    assert await _ids(harness, "older") == []
