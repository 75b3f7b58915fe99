"""Apply a batch of change events to the graph (the kit's version-guarded batch
handler, :mod:`polyfhir_bus.indexing.batch`, writing graph records).

A delete is a tombstone node without edges. When the engine refuses the batch
(not a transient failure), the records are applied one by one and those it
still refuses are dead-lettered with the reason. After the records, the
highest position of each partition in the batch is recorded.
"""

from __future__ import annotations

from polyfhir_bus.events import ResourceChanged
from polyfhir_bus.indexing.batch import VersionedBatchHandler
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.config import RetryConfig
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_graph import metrics
from polyfhir_graph.domain.records import GraphRecord, record_for, reference_registry
from polyfhir_graph.service_layer.ports import GraphRefused, GraphStore, ItemResult, Outcome


class Indexer(VersionedBatchHandler[GraphRecord]):
    """The consumer's batch handler (``polyfhir_bus.consumer.BatchHandler``)."""

    def __init__(
        self,
        store: GraphStore,
        freshness: Freshness,
        registry: SearchParameterRegistry,
        retry: RetryConfig | None = None,
    ) -> None:
        super().__init__(freshness, metrics.INDEXER, "graph engine", retry)
        self._store = store
        self._registry = reference_registry(registry)

    def _items(self, events: list[ResourceChanged]) -> list[GraphRecord]:
        return [record_for(event, self._registry) for event in events]

    async def _apply(self, items: list[GraphRecord], positions: dict[int, int]) -> list[ItemResult]:
        try:
            results = await self._apply_or_split(items)
        except GraphRefused as exc:
            results = [ItemResult(items[0], Outcome.REJECTED, str(exc))]
        await self._store.record_positions(positions)
        return results

    async def _apply_or_split(self, records: list[GraphRecord]) -> list[ItemResult]:
        try:
            return await self._store.apply(records)
        except GraphRefused:
            if len(records) == 1:
                raise
        results: list[ItemResult] = []
        for record in records:
            try:
                results += await self._store.apply([record])
            except GraphRefused as exc:
                results.append(ItemResult(record, Outcome.REJECTED, str(exc)))
        return results
