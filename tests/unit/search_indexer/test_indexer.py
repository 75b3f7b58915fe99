"""The batch handler over an in-memory engine (unit): outcomes, rejections, positions."""

from __future__ import annotations

from typing import Any

import pytest

from polyfhir_bus.consumer import Batch
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_search.domain.documents import IndexDocument
from polyfhir_search.service_layer.freshness import Freshness
from polyfhir_search.service_layer.indexer import Indexer
from polyfhir_search.service_layer.ports import ItemResult, Outcome

pytestmark = pytest.mark.unit


class MemoryEngine:
    """Keeps the highest version per document; refuses ids listed in ``refuse``."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.docs: dict[str, IndexDocument] = {}
        self.stored_positions: dict[int, int] = {}
        self.refuse = refuse

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
