"""Apply a batch of change events to the search index (the kit's version-guarded
batch handler, :mod:`polyfhir_bus.indexing.batch`, writing documents).

A delete is a tombstone document with its version. The engine's external
versioning refuses anything not newer than what it holds; ``apply_batch``
records the batch's positions with the documents.

Positions are gapless per partition (docs/events.md). A batch whose first
position on a partition lies beyond the next one the index expects means events
were lost on the way (a memory-only broker restarted, a topic was re-created):
the index records the gap and stops claiming to be complete, so searches go to
the primary until a repair of every tenant (started by the gateway) refills it.
"""

from __future__ import annotations

import logging

from polyfhir_bus.consumer import Batch
from polyfhir_bus.events import ResourceChanged
from polyfhir_bus.indexing.batch import VersionedBatchHandler, lowest_positions
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.config import RetryConfig
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_search import metrics
from polyfhir_search.domain.documents import IndexDocument, document_for, text_registry
from polyfhir_search.domain.index_meta import first_gap
from polyfhir_search.service_layer.ports import ItemResult, SearchEngine

log = logging.getLogger(__name__)


class Indexer(VersionedBatchHandler[IndexDocument]):
    """The consumer's batch handler (``polyfhir_bus.consumer.BatchHandler``)."""

    def __init__(
        self,
        engine: SearchEngine,
        freshness: Freshness,
        registry: SearchParameterRegistry,
        retry: RetryConfig | None = None,
    ) -> None:
        super().__init__(freshness, metrics.INDEXER, "search engine", retry)
        self._engine = engine
        self._registry = text_registry(registry)

    def _items(self, events: list[ResourceChanged]) -> list[IndexDocument]:
        return [document_for(event, self._registry) for event in events]

    async def _before_apply(self, batch: Batch) -> None:
        await self._check_gap(batch.first_positions or lowest_positions(batch.deliveries))

    async def _apply(
        self, items: list[IndexDocument], positions: dict[int, int]
    ) -> list[ItemResult]:
        return await self._engine.apply_batch(items, positions)

    async def _check_gap(self, lowest: dict[int, int]) -> None:
        if not lowest:
            return
        held = await self._engine.positions()
        partition = first_gap(held, lowest)
        if partition is not None:
            await self._engine.record_gap()
            metrics.POSITION_GAPS.inc()
            log.warning(
                "events lost on partition %s: applied up to %s, next batch starts at %s; "
                "the index is not complete until a repair",
                partition,
                held[partition],
                lowest[partition],
            )
