"""Apply a batch of change events to the terminology store (the kit's version-guarded
batch handler, :mod:`polyfhir_bus.indexing.batch`, writing definitions).

Only CodeSystem, ValueSet and ConceptMap events are written (each definition in
its own transaction, so one the engine refuses is dead-lettered alone); events
of every other type only advance the positions. After the items, the highest
position of each partition in the batch is recorded.
"""

from __future__ import annotations

from polyfhir_bus.events import ResourceChanged
from polyfhir_bus.indexing.batch import VersionedBatchHandler
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_terminology import metrics
from polyfhir_terminology.domain.items import TERMINOLOGY_TYPES, TerminologyItem, item_for
from polyfhir_terminology.service_layer.ports import ItemResult, TerminologyStore


class Indexer(VersionedBatchHandler[TerminologyItem]):
    """The consumer's batch handler (``polyfhir_bus.consumer.BatchHandler``)."""

    def __init__(self, store: TerminologyStore, freshness: Freshness) -> None:
        super().__init__(freshness, metrics.INDEXER, "terminology store")
        self._store = store

    def _items(self, events: list[ResourceChanged]) -> list[TerminologyItem]:
        return [item_for(e) for e in events if e.resource_type in TERMINOLOGY_TYPES]

    async def _apply(
        self, items: list[TerminologyItem], positions: dict[int, int]
    ) -> list[ItemResult]:
        results = await self._store.apply(items)
        await self._store.record_positions(positions)
        return results
