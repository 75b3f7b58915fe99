"""An engine that restarts empty (osmem is memory-only, like a lost cluster): the indexer
re-creates its indices with their analyzers, reports that it has applied nothing, and
indexes what comes next (both adapters)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from polyfhir_core.contracts.search_index import AppliedVersion, TextClause, TextField, TextSearch
from polyfhir_engines.osmem import LocalOpenSearch

pytestmark = pytest.mark.integration


async def test_an_engine_that_comes_back_empty_is_rebuilt_into(
    ev: Any, engine_kind: str, tmp_path: Path
) -> None:
    with LocalOpenSearch(log_dir=tmp_path) as server:
        engine = ev.build_engine(engine_kind, server.url, ev.unique("r"))
        await engine.ensure_index()
        h = ev.Harness(engine, ev.unique("tenant"))
        try:
            e1 = ev.change(h.tenant, "a", 1, ev.narrative("Patient was running"))
            await h.apply_at(ev.delivery(e1, 0, 4))
            assert await h.service.positions(h.tenant) == {0: 4}

            await asyncio.to_thread(server.restart)
            await h.service.check_ready()  # re-creates the indices
            assert await h.service.positions(h.tenant) == {}
            assert not await h.service.wait_positions(h.tenant, {0: 4}, 0)
            versions = [AppliedVersion("Condition", "a", 1)]
            assert not await h.service.wait_applied(h.tenant, versions, 0)
            request = TextSearch(None, (TextClause(TextField.NARRATIVE, ("runs",)),))
            assert (await h.service.search_text(h.tenant, request)).total == 0

            # what comes next (a rebuild, new writes) is indexed with the English analysis
            e2 = ev.change(h.tenant, "b", 1, ev.narrative("Patient keeps running"))
            await h.apply_at(ev.delivery(e1, 0, 5), ev.delivery(e2, 1, 1))
            hits = await h.service.search_text(h.tenant, request)
            assert sorted(x.id for x in hits.hits) == ["a", "b"]
            assert await h.service.wait_positions(h.tenant, {0: 5, 1: 1}, 0)
        finally:
            await engine.close()


async def test_reads_on_an_engine_that_lost_the_index_heal_it(
    ev: Any, engine_kind: str, tmp_path: Path
) -> None:
    with LocalOpenSearch(log_dir=tmp_path) as server:
        engine = ev.build_engine(engine_kind, server.url, ev.unique("r"))
        await engine.ensure_index()
        h = ev.Harness(engine, ev.unique("tenant"))
        try:
            await asyncio.to_thread(server.restart)
            assert await h.service.drop_tenant(h.tenant) == 0
            assert await h.service.scan(h.tenant, None, 10) == []
            stats = await h.service.stats(h.tenant)
            assert (stats.documents, stats.tombstones, stats.positions) == (0, 0, {})
        finally:
            await engine.close()
