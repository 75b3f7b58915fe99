"""Apply a batch of change events to an index, idempotently: the shared skeleton.

Within a batch only the highest version of each resource is written (the
others are stale by construction); the engine's version guard refuses
anything not newer than what it holds, so duplicates, redeliveries and
out-of-order versions are skipped, never applied over a newer one. A delete is
a tombstone with its version. The engine records the highest position of each
partition of the batch after the items, then waiters are woken. Items the
engine refuses for good come back as rejections, which the consumer
dead-letters.

An indexer subclasses :class:`VersionedBatchHandler` with what an event
becomes in its engine (``_items``) and how a batch is written (``_apply``).

A write the engine fails (an exception, not a rejection) is retried with the
backend's ``retry`` settings of the composite configuration (``max_attempts``,
exponential backoff; ``polyfhir_<name>_apply_retries_total``); after the last
attempt the error goes to the consumer, which redelivers the whole batch later.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from polyfhir_bus.consumer import Batch, Delivery, Rejection
from polyfhir_bus.events import ResourceChanged, event_key
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_bus.indexing.metrics import IndexerMetrics
from polyfhir_core.config import RetryConfig


class Outcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # the index holds a newer version (an equal one is rewritten: same content)
    REJECTED = "rejected"  # the engine refuses this item for good (dead-lettered)


class IndexedItem(Protocol):
    """What one event leaves in an index (a document, a graph node...)."""

    @property
    def tenant(self) -> str: ...

    @property
    def resource_type(self) -> str: ...

    @property
    def resource_id(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def last_updated(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class IndexedResource:
    """The identity and version every indexer's item carries (an :class:`IndexedItem`);
    an indexer's domain item derives from it and adds what its engine stores."""

    tenant: str
    resource_type: str
    resource_id: str
    version: int
    last_updated: datetime
    deleted: bool

    @property
    def event_key(self) -> str:
        """``tenant|type|id``: the event key, the id of the item in its engine."""
        return event_key(self.tenant, self.resource_type, self.resource_id)


ItemT = TypeVar("ItemT", bound=IndexedItem)


@dataclass(frozen=True)  # no slots: ItemResult[T](...) sets __orig_class__ (refused, ignored)
class ItemResult(Generic[ItemT]):
    item: ItemT
    outcome: Outcome
    reason: str | None = None


def latest_per_resource(events: list[ResourceChanged]) -> list[ResourceChanged]:
    """Keep one event per resource, the highest version (first seen on a tie)."""
    best: dict[str, ResourceChanged] = {}
    for event in events:
        held = best.get(event.key)
        if held is None or event.version > held.version:
            best[event.key] = event
    return list(best.values())


def lowest_positions(deliveries: list[Delivery]) -> dict[int, int]:
    """From the deliveries alone (a batch built without ``first_positions``)."""
    lowest: dict[int, int] = {}
    for d in deliveries:
        if d.position is not None and d.position < lowest.get(d.partition, d.position + 1):
            lowest[d.partition] = d.position
    return lowest


class VersionedBatchHandler(ABC, Generic[ItemT]):
    """The consumer's batch handler (``polyfhir_bus.consumer.BatchHandler``)."""

    def __init__(
        self,
        freshness: Freshness,
        metrics: IndexerMetrics,
        engine_name: str,
        retry: RetryConfig | None = None,
    ) -> None:
        self._freshness = freshness
        self._metrics = metrics
        self._rejected_by = f"rejected by the {engine_name}"
        self.retry = retry or RetryConfig()

    @abstractmethod
    def _items(self, events: list[ResourceChanged]) -> list[ItemT]:
        """What the events become in the index; CPU work, run off the event loop."""

    async def _before_apply(self, batch: Batch) -> None:
        """Checks on the batch before it is written (nothing by default)."""

    @abstractmethod
    async def _apply(
        self, items: list[ItemT], positions: dict[int, int]
    ) -> list[ItemResult[ItemT]]:
        """Write the items guarded by version, then raise the stored positions."""

    async def __call__(self, batch: Batch) -> list[Rejection]:
        started = time.perf_counter()
        deliveries = batch.deliveries
        latest = latest_per_resource([d.event for d in deliveries])
        by_version = {(d.event.key, d.event.version): d for d in deliveries}
        # FHIRPath extraction is CPU work (~1 ms a resource): off the event loop, so the
        # query API of this process keeps answering while a batch is prepared
        items = await asyncio.to_thread(self._items, latest)
        await self._before_apply(batch)
        positions = batch.positions
        engine_call = datetime.now(UTC)
        for item in items:  # commit -> engine call: the pipeline's part of the sync lag
            lag = (engine_call - item.last_updated).total_seconds()
            self._metrics.pipeline_lag_seconds.observe(max(lag, 0.0))
        written = time.perf_counter()
        results = await self._apply_retried(items, positions)
        self._metrics.engine_write_seconds.observe(time.perf_counter() - written)
        await self._freshness.advance()
        self._metrics.batch_size.observe(len(deliveries))
        self._metrics.apply_seconds.observe(time.perf_counter() - started)
        self._observe(results, len(deliveries) - len(latest), positions)
        return [
            Rejection(by_version[_key(r.item), r.item.version], r.reason or self._rejected_by)
            for r in results
            if r.outcome is Outcome.REJECTED
        ]

    async def _apply_retried(
        self, items: list[ItemT], positions: dict[int, int]
    ) -> list[ItemResult[ItemT]]:
        """``_apply``, again after each failure while ``retry.max_attempts`` allows."""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return await self._apply(items, positions)
            except Exception:
                if attempt >= self.retry.max_attempts:
                    raise
                self._metrics.apply_retries.inc()
                await asyncio.sleep(self.retry.backoff_ms(attempt) / 1000)
        raise AssertionError("unreachable: max_attempts >= 1")  # pragma: no cover

    def _observe(
        self, results: list[ItemResult[ItemT]], skipped: int, positions: dict[int, int]
    ) -> None:
        now = datetime.now(UTC)
        for result in results:
            self._metrics.events.labels(result.outcome.value).inc()
            if result.outcome is Outcome.APPLIED:
                lag = (now - result.item.last_updated).total_seconds()
                self._metrics.sync_lag_seconds.observe(max(lag, 0.0))
        self._metrics.events.labels(Outcome.STALE.value).inc(skipped)
        for partition, position in positions.items():
            self._metrics.applied_position.labels(str(partition)).set(position)


def _key(item: IndexedItem) -> str:
    return event_key(item.tenant, item.resource_type, item.resource_id)
