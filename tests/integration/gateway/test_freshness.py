"""A search index that cannot prove it is complete is bypassed, and repaired without a
manual call (the gateway over the in-process SQLite primary, the search backend a
FakeSearchIndex that reports ``complete = False`` as an emptied or re-created index does)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from integration.gateway.harness import Positioned, build, ids, route
from polyfhir_core.contracts.primary_store import TenantPositions
from polyfhir_core.resources import ResourceKey

pytestmark = pytest.mark.integration


class Republishing(Positioned):
    """The primary with every change published (no relay here), recording republishes."""

    def __init__(self, store: Any) -> None:
        super().__init__(store, TenantPositions({0: 3}))
        self.republished: dict[str, list[ResourceKey]] = {}
        self.on_republish: Callable[[], None] = lambda: None

    async def republish(self, ctx: Any, keys: Sequence[ResourceKey]) -> int:
        self.on_republish()
        self.republished.setdefault(ctx.tenant.value, []).extend(keys)
        return len(keys)


@pytest.mark.parametrize(
    "sync",
    [{"mode": "hybrid", "timeout_ms": 500}, {"mode": "asynchronous", "max_read_lag_ms": 0}],
)
async def test_an_incomplete_index_is_bypassed_with_the_reason_in_the_headers(
    primary: Any, sync: dict[str, Any]
) -> None:
    """Whatever the SyncMode (hybrid reads are not lag-checked), an emptied index never
    answers "0 hits, served by search"."""
    gw = build(primary, Positioned(primary, TenantPositions({})), sync=sync)
    pid = await gw.patient("pleurisy", index=False)  # the index lost it
    gw.fake.complete = False
    answer = await gw.search("Patient", _text="pleurisy")
    assert route(answer) == "primary"
    assert answer.headers["x-polyfhir-fallback"] == "search=not_fresh"
    assert ids(answer) == [pid]
    counted = await gw.search("Patient", _content="pleurisy", _summary="count")
    assert counted.json()["total"] == 1
    assert route(counted) == "primary"


async def test_the_gateway_repairs_an_incomplete_index_for_every_tenant(primary: Any) -> None:
    store = Republishing(primary)
    gw = build(primary, store)
    other = build(primary, store)
    missing = await gw.patient("empyema", index=False)
    elsewhere = await other.patient("empyema", index=False)
    gw.fake.complete = False
    gw.fake.applied_positions = {0: 3}

    assert await gw.pipeline.convergence.converge("search")
    assert gw.fake.completions == [("g1", 0)]
    assert ResourceKey("Patient", missing) in store.republished[gw.tenant]
    assert ResourceKey("Patient", elsewhere) in store.republished[other.tenant]
    async with gw.client() as c:
        listed = (await c.get("/admin/backends")).json()["backends"]
    index = next(b for b in listed if b["id"] == "search")["index"]
    assert (index["complete"], index["lastOutcome"], index["repairing"]) == (
        True,
        "complete",
        False,
    )

    gw.fake.add(gw.tenant, "Patient", missing, "empyema")  # what the republish brought back
    answer = await gw.search("Patient", _text="empyema")
    assert route(answer) == "search,primary"
    assert ids(answer) == [missing]


async def test_a_gap_found_during_the_repair_keeps_the_index_incomplete(primary: Any) -> None:
    store = Republishing(primary)
    gw = build(primary, store)
    await gw.patient("empyema", index=False)
    gw.fake.complete, gw.fake.applied_positions = False, {0: 3}

    def lose_events() -> None:
        gw.fake.gaps += 1  # the indexer saw positions jump while the repair ran

    store.on_republish = lose_events
    assert not await gw.pipeline.convergence.converge("search")
    assert gw.pipeline.convergence.status["search"].last_outcome == "superseded"
    assert not gw.fake.complete
    store.on_republish = lambda: None
    assert await gw.pipeline.convergence.converge("search")  # the next round completes it


async def test_an_index_that_does_not_catch_up_stays_incomplete(primary: Any) -> None:
    store = Republishing(primary)
    gw = build(primary, store)
    await gw.patient("empyema", index=False)
    gw.fake.complete, gw.fake.applied_positions = False, {0: 1}  # behind the primary's 3
    gw.pipeline.convergence.catch_up_timeout_s = 0.1
    with pytest.raises(Exception, match="did not catch up"):
        await gw.pipeline.convergence.converge("search")
    assert not gw.fake.complete
    assert gw.pipeline.convergence.status["search"].last_outcome == "failed"


async def test_an_index_rebuild_republishes_every_tenant_then_switches(primary: Any) -> None:
    store = Republishing(primary)
    gw = build(primary, store)
    pid = await gw.patient("empyema")
    gw.fake.applied_positions = {0: 3}
    async with gw.client() as c:
        started = await c.post("/admin/backends/search/rebuild-index")
        assert started.status_code == 202, started.text
        await gw.pipeline.convergence._rebuilds["search"]
        listed = (await c.get("/admin/backends")).json()["backends"]
    index = next(b for b in listed if b["id"] == "search")["index"]
    assert (index["lastOutcome"], index["repairing"]) == ("rebuilt", False)
    assert gw.fake.generation == "g1+1" and gw.fake.building == ""
    assert ResourceKey("Patient", pid) in store.republished[gw.tenant]
    answer = await gw.search("Patient", _text="empyema")
    assert route(answer) == "search,primary"


async def test_an_index_rebuild_of_an_unknown_backend_is_404(primary: Any) -> None:
    gw = build(primary)
    async with gw.client() as c:
        answer = await c.post("/admin/backends/nope/rebuild-index")
    assert answer.status_code == 404
    assert answer.json()["resourceType"] == "OperationOutcome"


class Streamed(Republishing):
    """... whose whole stream stands at ``stream`` with nothing left to publish."""

    def __init__(self, store: Any, stream: dict[int, int]) -> None:
        super().__init__(store)
        self.stream = stream

    async def stream_positions(self, ctx: Any) -> TenantPositions:
        return TenantPositions(dict(self.stream), pending=0)


async def test_an_index_stuck_behind_the_stream_is_repaired(primary: Any) -> None:
    """Events a broker lost with nothing after them: no gap to see, but the index stays
    below where the primary's stream stands."""
    store = Streamed(primary, {0: 10})
    gw = build(primary, store)
    await gw.patient("empyema", index=False)
    gw.fake.applied_positions = {0: 3}
    convergence = gw.pipeline.convergence

    assert await convergence.converge("search")  # behind: look again next round
    gw.fake.applied_positions = {0: 4}  # it moved: still catching up, not stuck
    assert await convergence.converge("search")
    assert store.republished == {}
    assert await convergence.converge("search")  # the same positions twice: stuck
    assert gw.tenant in store.republished
    assert convergence.status["search"].last_outcome == "complete"
