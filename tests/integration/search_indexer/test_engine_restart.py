"""An index that lost what it held proves it (both adapters over osmem).

The index keeps its applied positions and its generation document inside the
engine with the documents. An engine that restarts empty (osmem is memory-only,
like a lost cluster), an index deleted and re-created, or a stream that lost
events (positions jump) leaves an index that is not complete: it reports so
(``index_state``), refuses full-text searches (``IndexNotFresh``, so the gateway
asks the primary) and becomes complete only when a repair that started at the
same generation and gap count marks it so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from polyfhir_core.contracts.search_index import TextClause, TextField, TextSearch
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.errors import IndexNotFresh
from polyfhir_engines.osmem import LocalOpenSearch

pytestmark = pytest.mark.integration

RUNS = TextSearch(None, (TextClause(TextField.NARRATIVE, ("runs",)),))


async def test_an_engine_that_comes_back_empty_is_not_fresh_until_refilled(
    ev: Any, engine_kind: str, tmp_path: Path
) -> None:
    with LocalOpenSearch(log_dir=tmp_path) as server:
        engine = ev.build_engine(engine_kind, server.url, ev.unique("r"))
        await engine.ensure_index()
        h = ev.Harness(engine, ev.unique("tenant"))
        try:
            await h.fill()
            before = await h.service.index_state(h.ctx)
            e1 = ev.change(h.tenant, "a", 1, ev.narrative("Patient was running"))
            await h.apply_at(ev.delivery(e1, 0, 4))
            assert await h.service.positions(h.ctx) == {0: 4}
            assert (await h.service.search_text(h.ctx, RUNS)).total == 1

            await asyncio.to_thread(server.restart)
            await h.service.check_ready()  # re-creates the index: a new, empty generation
            state = await h.service.index_state(h.ctx)
            assert state.generation != before.generation
            assert (state.complete, state.positions) == (False, {})
            assert not await h.service.wait_positions(h.ctx, {0: 4}, 0)
            versions = [AppliedVersion("Condition", "a", 1)]
            assert not await h.service.wait_applied(h.ctx, versions, 0)
            with pytest.raises(IndexNotFresh):  # never "0 hits" from an emptied index
                await h.service.search_text(h.ctx, RUNS)

            # the repair republishes (here: applies) what the primary holds, then marks it
            e2 = ev.change(h.tenant, "b", 1, ev.narrative("Patient keeps running"))
            await h.apply_at(ev.delivery(e1, 0, 5), ev.delivery(e2, 1, 1))
            with pytest.raises(IndexNotFresh):  # applied events alone prove nothing
                await h.service.search_text(h.ctx, RUNS)
            assert not await h.service.mark_complete(h.ctx, before.generation, 0)
            assert await h.service.mark_complete(h.ctx, state.generation, state.gaps)
            hits = await h.service.search_text(h.ctx, RUNS)
            assert sorted(x.id for x in hits.hits) == ["a", "b"]
            assert await h.service.wait_positions(h.ctx, {0: 5, 1: 1}, 0)
        finally:
            await engine.close()


async def test_a_deleted_and_recreated_index_is_not_fresh(
    ev: Any, engine_kind: str, opensearch_server: LocalOpenSearch
) -> None:
    prefix = ev.unique("del")
    engine = ev.build_engine(engine_kind, opensearch_server.url, prefix)
    await engine.ensure_index()
    h = ev.Harness(engine, ev.unique("tenant"))
    try:
        await h.fill()
        await h.apply_at(ev.delivery(ev.change(h.tenant, "a", 1, ev.narrative("runs")), 0, 1))
        async with httpx.AsyncClient(base_url=opensearch_server.url) as http:
            assert (await http.delete(f"/{prefix}-resources-*")).status_code == 200
        with pytest.raises(IndexNotFresh):  # the read heals the index, empty and incomplete
            await h.service.search_text(h.ctx, RUNS)
        state = await h.service.index_state(h.ctx)
        assert not state.complete and state.positions == {}
    finally:
        await engine.close()


async def test_lost_events_make_the_index_incomplete_until_a_repair_after_them(
    harness: Any, ev: Any
) -> None:
    t = harness.tenant
    await harness.apply_at(ev.delivery(ev.change(t, "a", 1, ev.narrative("runs")), 0, 1))
    await harness.apply_at(ev.delivery(ev.change(t, "a", 2, ev.narrative("runs")), 0, 2))
    started = await harness.service.index_state(harness.ctx)
    assert started.complete and started.gaps == 0

    # positions 3..9 of partition 0 never arrive (a broker that restarted empty)
    await harness.apply_at(ev.delivery(ev.change(t, "b", 1, ev.narrative("runs")), 0, 10))
    gap = await harness.service.index_state(harness.ctx)
    assert (gap.complete, gap.gaps, gap.positions) == (False, 1, {0: 10})
    with pytest.raises(IndexNotFresh):
        await harness.service.search_text(harness.ctx, RUNS)

    # a repair that started before the gap cannot complete the index; one after it can
    assert not await harness.service.mark_complete(harness.ctx, started.generation, started.gaps)
    assert await harness.service.mark_complete(harness.ctx, gap.generation, gap.gaps)
    assert (await harness.service.search_text(harness.ctx, RUNS)).total == 2

    # redeliveries and the next position are not gaps; a new partition starts its chain
    await harness.apply_at(
        ev.delivery(ev.change(t, "a", 2, ev.narrative("runs")), 0, 2),
        ev.delivery(ev.change(t, "c", 1, ev.narrative("runs")), 0, 11),
        ev.delivery(ev.change(t, "d", 1, ev.narrative("runs")), 1, 7),
    )
    assert (await harness.service.index_state(harness.ctx)).complete


async def test_reads_on_an_engine_that_lost_the_index_heal_it(
    ev: Any, engine_kind: str, tmp_path: Path
) -> None:
    with LocalOpenSearch(log_dir=tmp_path) as server:
        engine = ev.build_engine(engine_kind, server.url, ev.unique("r"))
        await engine.ensure_index()
        h = ev.Harness(engine, ev.unique("tenant"))
        try:
            await asyncio.to_thread(server.restart)
            assert await h.service.drop_tenant(h.ctx) == 0
            assert await h.service.scan(h.ctx, None, 10) == []
            stats = await h.service.stats(h.ctx)
            assert (stats.documents, stats.tombstones, stats.positions) == (0, 0, {})
        finally:
            await engine.close()
