"""A graph engine that is down or restarted: transient failures are retried by the consumer
(never dead-lettered), and an engine that restarted empty says it has applied nothing."""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_bus.consumer import Batch
from polyfhir_core.errors import ServiceUnavailable
from polyfhir_engines.falkordb import LocalFalkorDB
from polyfhir_engines.processes import free_port
from polyfhir_graph.adapters.falkordb import FalkorGraph
from polyfhir_graph.service_layer.ports import GraphRefused

pytestmark = pytest.mark.integration


async def test_an_unreachable_engine_fails_the_batch_for_a_retry(gx: Any) -> None:
    store = FalkorGraph(f"redis://127.0.0.1:{free_port()}", gx.unique("g"))
    h = gx.Harness(store, gx.unique("tenant"))
    try:
        with pytest.raises(ServiceUnavailable):
            await h.indexer(Batch([gx.delivery(h.put("Patient", "p", 1), 0, 1)], {0: 1}))
        with pytest.raises(ServiceUnavailable):
            await h.service.check_ready()
    finally:
        await store.close()


async def test_a_restarted_engine_reports_no_positions_until_it_applies_again(
    gx: Any, tmp_path: Any
) -> None:
    with LocalFalkorDB(log_dir=tmp_path) as engine:
        store = FalkorGraph(engine.url, gx.unique("g"))
        h = gx.Harness(store, gx.unique("tenant"))
        try:
            await store.ensure_schema()
            await h.apply_at(gx.delivery(h.put("Patient", "p", 1), 0, 7))
            assert await h.service.positions(h.ctx) == {0: 7}
            engine.restart()  # memory only: the graph is gone
            await store.ensure_schema()
            assert await h.service.positions(h.ctx) == {}
            assert not await h.service.wait_positions(h.ctx, {0: 7}, 0)
            await h.apply_at(gx.delivery(h.put("Patient", "p", 1), 0, 7))  # the replay
            assert await h.service.positions(h.ctx) == {0: 7}
            assert (await h.service.stats(h.ctx)).resources == 1
        finally:
            await store.close()


async def test_a_statement_the_engine_refuses_is_a_refusal_not_an_outage(
    graph_store: Any,
) -> None:
    with pytest.raises(GraphRefused):
        await graph_store.run("MATCH (n:Resource RETURN n", {})
