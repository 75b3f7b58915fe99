"""Wiring of the search-indexer: settings -> engine -> service and consumer.

Nothing else builds objects.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from polyfhir_bus.claim_check import PrimaryStoreVersions
from polyfhir_bus.consumer import BatchConsumer, ConsumerOptions
from polyfhir_core.contracts.primary_store import PRIMARY_STORE, PrimaryStore
from polyfhir_core.errors import ServiceUnavailable
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_search import metrics
from polyfhir_search.adapters.elasticsearch import ElasticsearchIndex
from polyfhir_search.adapters.engine_index import EngineIndex
from polyfhir_search.adapters.opensearch import OpenSearchIndex
from polyfhir_search.service_layer.freshness import Freshness
from polyfhir_search.service_layer.index_service import IndexService
from polyfhir_search.service_layer.indexer import Indexer
from polyfhir_search.settings import SearchSettings
from polyfhir_servicekit.contract_client import ServiceClients

log = logging.getLogger(__name__)
CONSUMER_NAME = "polyfhir-search-indexer"


def build_engine(settings: SearchSettings) -> EngineIndex:
    if settings.search_engine_kind == "elasticsearch":
        return ElasticsearchIndex(
            settings.search_engine_url,
            settings.search_index_prefix,
            compatibility_headers=settings.search_compatibility_headers,
        )
    return OpenSearchIndex(settings.search_engine_url, settings.search_index_prefix)


def build_consumer(
    settings: SearchSettings, indexer: Indexer, primary: PrimaryStore | None
) -> BatchConsumer | None:
    """The change-stream consumer when POLYFHIR_KAFKA_BOOTSTRAP is set; claim checks
    (events too large for the broker) are redeemed from ``primary``."""
    if not settings.kafka_bootstrap.strip():
        return None
    if primary is None:
        log.warning(
            "POLYFHIR_PRIMARY_STORE_URL is unset: events of resources too large for the"
            " broker (claim checks) will be dead-lettered instead of indexed"
        )
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
        indexer,
        consumer_name=CONSUMER_NAME,
        options=options,
        on_error=metrics.count_consumer_error,
        on_dead_letter=metrics.count_dead_letter,
        versions=PrimaryStoreVersions(primary) if primary is not None else None,
    )


async def ensure_index(engine: EngineIndex, timeout_s: float) -> None:
    """Create the indices, waiting (bounded) for an engine that is still starting."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            await engine.ensure_index()
            return
        except ServiceUnavailable as exc:
            if loop.time() >= deadline:
                raise
            log.warning("search engine not ready", extra={"reason": str(exc)})
            await asyncio.sleep(0.5)


@dataclass
class SearchIndexer:
    engine: EngineIndex
    service: IndexService
    indexer: Indexer
    consumer: BatchConsumer | None
    clients: ServiceClients | None = None  # built here, closed here

    async def start(self) -> None:
        if self.consumer is not None:
            await self.consumer.start()

    async def close(self) -> None:
        try:
            if self.consumer is not None:
                await self.consumer.stop()
        finally:
            try:
                await self.engine.close()
            finally:
                if self.clients is not None:
                    await self.clients.close()


async def bootstrap(
    settings: SearchSettings,
    registry: SearchParameterRegistry | None = None,
    primary: PrimaryStore | None = None,
) -> SearchIndexer:
    """Engine ready and indices created; call :meth:`SearchIndexer.start` to consume.

    ``primary`` (for claim checks) defaults to a client of POLYFHIR_PRIMARY_STORE_URL.
    """
    engine = build_engine(settings)
    try:
        await ensure_index(engine, settings.startup_timeout_s)
    except BaseException:
        await engine.close()
        raise
    freshness = Freshness(engine)
    indexer = Indexer(engine, freshness, registry or SearchParameterRegistry.default())
    clients = None
    if primary is None and settings.primary_store_url:
        clients = ServiceClients()
        primary = clients.connect(PRIMARY_STORE, settings.primary_store_url)
    consumer = build_consumer(settings, indexer, primary)
    return SearchIndexer(engine, IndexService(engine, freshness), indexer, consumer, clients)
