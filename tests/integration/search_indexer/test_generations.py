"""Zero-downtime rebuild into a new generation behind the alias (both adapters, osmem).

While a new generation is being built, every batch goes to it and to the serving
index; searches keep answering from the serving index with whole totals; one
``_aliases`` request switches them to the new generation once it has caught up,
and the old index is deleted.
"""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_core.contracts.search_index import TextClause, TextField, TextSearch

pytestmark = pytest.mark.integration

FEVER = TextSearch(None, (TextClause(TextField.NARRATIVE, ("fever",)),))


async def total(harness: Any) -> int:
    return int((await harness.service.search_text(harness.ctx, FEVER)).total)


async def test_a_rebuild_fills_a_new_generation_and_switches_atomically(
    harness: Any, ev: Any
) -> None:
    t, engine = harness.tenant, harness.engine
    fever = ev.narrative("yellow fever")
    await harness.apply_at(
        *(ev.delivery(ev.change(t, r, 1, fever), 0, n) for n, r in enumerate("abc", 1))
    )
    serving = await harness.service.index_state(harness.ctx)
    old_indices = await engine._alias_indices(engine.resources)

    building = await harness.service.begin_rebuild(harness.ctx)
    assert building.generation != serving.generation and not building.complete
    assert (
        await harness.service.begin_rebuild(harness.ctx)
    ).generation == building.generation  # resumed

    # the live stream (d) and the first republished resource (a) reach both generations;
    # searches still come from the serving one: whole totals, never the new one's 2
    await harness.apply_at(
        ev.delivery(ev.change(t, "a", 1, fever), 0, 4),
        ev.delivery(ev.change(t, "d", 1, fever), 1, 1),
    )
    assert await total(harness) == 4
    assert (await harness.service.index_state(harness.ctx)).generation == serving.generation
    assert (await engine.state(engine.physical(building.generation))).positions == {0: 4, 1: 1}

    await harness.apply_at(
        *(ev.delivery(ev.change(t, r, 1, fever), 0, n) for n, r in [(5, "b"), (6, "c")])
    )
    assert not await harness.service.finish_rebuild(
        harness.ctx, serving.generation, 0
    )  # not being built
    assert not await harness.service.finish_rebuild(
        harness.ctx, building.generation, 1
    )  # other gaps
    assert await total(harness) == 4

    assert await harness.service.finish_rebuild(harness.ctx, building.generation, building.gaps)
    after = await harness.service.index_state(harness.ctx)
    assert (after.generation, after.complete) == (building.generation, True)
    assert await total(harness) == 4
    assert await engine._alias_indices(engine.resources) == [engine.physical(building.generation)]
    assert await engine._alias_indices(engine.next_alias) == []
    for old in old_indices:
        assert not await engine._exists(old)

    # and the stream goes on into the new generation alone
    await harness.apply_at(ev.delivery(ev.change(t, "e", 1, fever), 0, 7))
    assert await total(harness) == 5
    assert (await harness.service.index_state(harness.ctx)).positions == {0: 7, 1: 1}


async def test_a_gap_during_a_rebuild_blocks_the_switch(harness: Any, ev: Any) -> None:
    t = harness.tenant
    await harness.apply_at(ev.delivery(ev.change(t, "a", 1, ev.narrative("fever")), 0, 1))
    building = await harness.service.begin_rebuild(harness.ctx)
    await harness.apply_at(ev.delivery(ev.change(t, "b", 1, ev.narrative("fever")), 0, 5))
    assert not await harness.service.finish_rebuild(harness.ctx, building.generation, building.gaps)
    assert (await harness.service.index_state(harness.ctx)).generation != building.generation
