"""The batch handler over an in-memory engine (unit): outcomes, rejections, positions."""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_bus.consumer import Batch
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_search.domain.documents import IndexDocument
from polyfhir_search.service_layer.indexer import Indexer
from polyfhir_search.service_layer.ports import ItemResult, Outcome

pytestmark = pytest.mark.unit


class MemoryEngine:
    """Keeps the highest version per document; refuses ids listed in ``refuse``."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.docs: dict[str, IndexDocument] = {}
        self.stored_positions: dict[int, int] = {}
        self.refuse = refuse
        self.gaps = 0

    async def apply_batch(
        self, documents: list[IndexDocument], positions: dict[int, int]
    ) -> list[ItemResult]:
        results = await self.apply(documents)
        await self.record_positions(positions)
        return results

    async def record_gap(self) -> None:
        self.gaps += 1

    async def apply(self, documents: list[IndexDocument]) -> list[ItemResult]:
        results = []
        for doc in documents:
            held = self.docs.get(doc.doc_id)
            if doc.resource_id in self.refuse:
                results.append(ItemResult(doc, Outcome.REJECTED, "400: mapper_parsing_exception"))
            elif held is not None and held.version >= doc.version:
                results.append(ItemResult(doc, Outcome.STALE))
            else:
                self.docs[doc.doc_id] = doc
                results.append(ItemResult(doc, Outcome.APPLIED))
        return results

    async def record_positions(self, positions: dict[int, int]) -> None:
        for p, n in positions.items():
            self.stored_positions[p] = max(n, self.stored_positions.get(p, 0))

    async def positions(self) -> dict[int, int]:
        return dict(self.stored_positions)


def _indexer(engine: MemoryEngine) -> tuple[Indexer, Freshness]:
    freshness = Freshness(engine)  # type: ignore[arg-type]
    return Indexer(engine, freshness, SearchParameterRegistry.default()), freshness  # type: ignore[arg-type]


async def test_rejections_name_the_refused_delivery(ev: Any) -> None:
    engine = MemoryEngine(refuse=frozenset({"bad"}))
    indexer, freshness = _indexer(engine)
    good = ev.delivery(ev.change("t", "ok", 1, ev.narrative("x")), 0, 1)
    bad = ev.delivery(ev.change("t", "bad", 3, ev.narrative("x")), 0, 2)
    rejected = await indexer(Batch([good, bad], {0: 2}))
    assert [(r.delivery, r.reason) for r in rejected] == [(bad, "400: mapper_parsing_exception")]
    assert set(engine.docs) == {"t|Condition|ok"}
    assert engine.stored_positions == {0: 2}
    assert await freshness.wait_positions({0: 2}, 0)


async def test_only_the_newest_version_of_a_batch_is_written(ev: Any) -> None:
    engine = MemoryEngine()
    indexer, _ = _indexer(engine)
    batch = [ev.delivery(ev.change("t", "a", v, ev.narrative(f"v{v}"))) for v in (2, 5, 3)]
    assert await indexer(Batch(batch, {})) == []
    assert engine.docs["t|Condition|a"].version == 5
    assert await indexer(Batch(batch[:1], {})) == []  # an old redelivery changes nothing
    assert engine.docs["t|Condition|a"].version == 5


async def test_positions_that_jump_record_a_gap_and_nothing_else_does(ev: Any) -> None:
    engine = MemoryEngine()
    indexer, _ = _indexer(engine)

    async def at(partition: int, *positions: int) -> None:
        deliveries = [
            ev.delivery(ev.change("t", f"r{n}", 1, ev.narrative("x")), partition, n)
            for n in positions
        ]
        await indexer(Batch(deliveries, {partition: max(positions)}))

    await at(0, 1, 2)
    await at(1, 7)  # a partition this index never recorded starts its chain
    await at(0, 2, 3)  # a redelivery overlapping the recorded position, then the next one
    assert engine.gaps == 0
    await at(0, 6)  # 4 and 5 never arrived
    assert engine.gaps == 1
    assert engine.stored_positions == {0: 6, 1: 7}
    # a dead-lettered record (position 7) counts: the batch starts where expected
    good = ev.delivery(ev.change("t", "g", 1, ev.narrative("x")), 0, 8)
    await indexer(Batch([good], {0: 8}, first_positions={0: 7}))
    assert engine.gaps == 1
