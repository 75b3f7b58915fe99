"""Apply a batch of change events to the graph, idempotently.

Within a batch only the highest version of each resource is written; the
engine's version guard refuses anything older than what it holds, so
duplicates, redeliveries and out-of-order versions are skipped, never applied
over a newer one. A delete is a tombstone node without edges. When the engine
refuses the batch (not a transient failure), the records are applied one by
one and those it still refuses are dead-lettered with the reason. After the
records, the highest position of each partition in the batch is recorded,
then waiters are woken.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from polyfhir_bus.consumer import Batch, Delivery, Rejection
from polyfhir_bus.events import ResourceChanged
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_graph import metrics
from polyfhir_graph.domain.records import (
    GraphRecord,
    latest_per_resource,
    record_for,
    reference_registry,
)
from polyfhir_graph.service_layer.freshness import Freshness
from polyfhir_graph.service_layer.ports import GraphRefused, GraphStore, ItemResult, Outcome


def _observe(results: list[ItemResult], skipped: int, positions: dict[int, int]) -> None:
    now = datetime.now(UTC)
    for result in results:
        metrics.EVENTS.labels(result.outcome.value).inc()
        if result.outcome is Outcome.APPLIED:
            lag = (now - result.record.last_updated).total_seconds()
            metrics.SYNC_LAG_SECONDS.observe(max(lag, 0.0))
    metrics.EVENTS.labels(Outcome.STALE.value).inc(skipped)
    for partition, position in positions.items():
        metrics.APPLIED_POSITION.labels(str(partition)).set(position)


class Indexer:
    """The consumer's batch handler (``polyfhir_bus.consumer.BatchHandler``)."""

    def __init__(
        self, store: GraphStore, freshness: Freshness, registry: SearchParameterRegistry
    ) -> None:
        self._store = store
        self._freshness = freshness
        self._registry = reference_registry(registry)

    def _records(self, events: list[ResourceChanged]) -> list[GraphRecord]:
        return [record_for(event, self._registry) for event in events]

    async def _apply(self, records: list[GraphRecord]) -> list[ItemResult]:
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

    async def __call__(self, batch: Batch) -> list[Rejection]:
        started = time.perf_counter()
        deliveries = batch.deliveries
        latest = latest_per_resource([d.event for d in deliveries])
        by_version: dict[tuple[str, int], Delivery] = {
            (d.event.key, d.event.version): d for d in deliveries
        }
        # FHIRPath extraction is CPU work: off the event loop, so the query API keeps answering
        records = await asyncio.to_thread(self._records, latest)
        try:
            results = await self._apply(records)
        except GraphRefused as exc:
            results = [ItemResult(records[0], Outcome.REJECTED, str(exc))]
        positions = batch.positions
        await self._store.record_positions(positions)
        await self._freshness.advance()
        metrics.BATCH_SIZE.observe(len(deliveries))
        metrics.APPLY_SECONDS.observe(time.perf_counter() - started)
        _observe(results, len(deliveries) - len(latest), positions)
        return [
            Rejection(
                by_version[r.record.record_id, r.record.version],
                r.reason or "rejected by the graph engine",
            )
            for r in results
            if r.outcome is Outcome.REJECTED
        ]
