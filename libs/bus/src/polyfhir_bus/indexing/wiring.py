"""Wiring every indexer shares: its change-stream consumer, waiting for its engine,
its lifecycle (start the consumer, stop it before closing the engine)."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Protocol

from polyfhir_bus.claim_check import ResourceVersions
from polyfhir_bus.consumer import BatchConsumer, BatchHandler, ConsumerOptions
from polyfhir_bus.indexing.metrics import IndexerMetrics
from polyfhir_bus.indexing.settings import IndexerSettings
from polyfhir_core.errors import ServiceUnavailable

log = logging.getLogger(__name__)


def build_consumer(
    settings: IndexerSettings,
    handler: BatchHandler,
    *,
    consumer_name: str,
    metrics: IndexerMetrics,
    versions: ResourceVersions | None = None,
) -> BatchConsumer | None:
    """The change-stream consumer when POLYFHIR_KAFKA_BOOTSTRAP is set; claim checks
    (events too large for the broker) are redeemed from ``versions`` if given."""
    if not settings.kafka_bootstrap.strip():
        return None
    options = ConsumerOptions(
        topic=settings.resource_changes_topic,
        dead_letter_topic=settings.dead_letter_topic,
        max_records=settings.batch_size,
        batch_timeout_ms=settings.batch_max_wait_ms,
        topic_partitions=settings.kafka_topic_partitions,
    )
    return BatchConsumer(
        settings.kafka_bootstrap,
        settings.consumer_group,
        handler,
        consumer_name=consumer_name,
        options=options,
        on_error=metrics.count_consumer_error,
        on_dead_letter=metrics.count_dead_letter,
        versions=versions,
        security=settings.kafka_security(),
    )


class Closeable(Protocol):
    async def close(self) -> None: ...


async def prepare_engine(
    engine: Closeable, prepare: Callable[[], Awaitable[None]], timeout_s: float, name: str
) -> None:
    """Run ``prepare`` (create indices, schema), retrying (bounded) while the engine is
    still starting (``ServiceUnavailable``); the engine is closed if it never gets ready."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while True:
            try:
                await prepare()
                return
            except ServiceUnavailable as exc:
                if loop.time() >= deadline:
                    raise
                log.warning("%s not ready", name, extra={"reason": str(exc)})
                await asyncio.sleep(0.5)
    except BaseException:
        await engine.close()
        raise


class ConsumingIndexer(ABC):
    """An indexer process's lifecycle: its consumer starts after the engine is ready and
    stops before the engine closes. Subclasses are dataclasses with a ``consumer`` field."""

    consumer: BatchConsumer | None

    @abstractmethod
    async def close_engine(self) -> None:
        """Close the engine client and whatever else the bootstrap built."""

    async def start(self) -> None:
        if self.consumer is not None:
            await self.consumer.start()

    async def close(self) -> None:
        try:
            if self.consumer is not None:
                await self.consumer.stop()
        finally:
            await self.close_engine()
