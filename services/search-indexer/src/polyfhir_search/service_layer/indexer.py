"""Apply a batch of change events to the index, idempotently.

Within a batch only the highest version of each resource is written (the
others are stale by construction); the engine's external versioning refuses
anything not newer than what it holds, so duplicates, redeliveries and
out-of-order versions are skipped, never applied over a newer one. A delete is
a tombstone with its version. After the documents, the highest position of
each partition in the batch is recorded, then waiters are woken.

Positions are gapless per partition (docs/events.md). A batch whose first
position on a partition lies beyond the next one the index expects means events
were lost on the way (a memory-only broker restarted, a topic was re-created):
the index records the gap and stops claiming to be complete, so searches go to
the primary until a repair of every tenant (started by the gateway) refills it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

from polyfhir_bus.consumer import Batch, Delivery, Rejection
from polyfhir_bus.events import ResourceChanged
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_search import metrics
from polyfhir_search.domain.documents import (
    IndexDocument,
    document_for,
    latest_per_resource,
    text_registry,
)
from polyfhir_search.domain.index_meta import first_gap
from polyfhir_search.service_layer.freshness import Freshness
from polyfhir_search.service_layer.ports import ItemResult, Outcome, SearchEngine

log = logging.getLogger(__name__)


def lowest_positions(deliveries: list[Delivery]) -> dict[int, int]:
    """From the deliveries alone (a batch built without ``first_positions``)."""
    lowest: dict[int, int] = {}
    for d in deliveries:
        if d.position is not None and d.position < lowest.get(d.partition, d.position + 1):
            lowest[d.partition] = d.position
    return lowest


def _observe(results: list[ItemResult], skipped: int, positions: dict[int, int]) -> None:
    now = datetime.now(UTC)
    for result in results:
        metrics.EVENTS.labels(result.outcome.value).inc()
        if result.outcome is Outcome.APPLIED:
            lag = (now - result.document.last_updated).total_seconds()
            metrics.SYNC_LAG_SECONDS.observe(max(lag, 0.0))
    metrics.EVENTS.labels(Outcome.STALE.value).inc(skipped)
    for partition, position in positions.items():
        metrics.APPLIED_POSITION.labels(str(partition)).set(position)


class Indexer:
    """The consumer's batch handler (``polyfhir_bus.consumer.BatchHandler``)."""

    def __init__(
        self, engine: SearchEngine, freshness: Freshness, registry: SearchParameterRegistry
    ) -> None:
        self._engine = engine
        self._freshness = freshness
        self._registry = text_registry(registry)

    def _documents(self, events: list[ResourceChanged]) -> list[IndexDocument]:
        return [document_for(event, self._registry) for event in events]

    async def __call__(self, batch: Batch) -> list[Rejection]:
        started = time.perf_counter()
        deliveries = batch.deliveries
        latest = latest_per_resource([d.event for d in deliveries])
        by_version = {(d.event.key, d.event.version): d for d in deliveries}
        # FHIRPath extraction is CPU work (~1 ms a resource): off the event loop, so the
        # query API of this process keeps answering while a batch is prepared
        documents = await asyncio.to_thread(self._documents, latest)
        await self._check_gap(batch.first_positions or lowest_positions(deliveries))
        positions = batch.positions
        results = await self._engine.apply_batch(documents, positions)
        await self._freshness.advance()
        metrics.BATCH_SIZE.observe(len(deliveries))
        metrics.APPLY_SECONDS.observe(time.perf_counter() - started)
        _observe(results, len(deliveries) - len(latest), positions)
        return [
            Rejection(
                by_version[r.document.doc_id, r.document.version],
                r.reason or "rejected by the search engine",
            )
            for r in results
            if r.outcome is Outcome.REJECTED
        ]

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
