"""Wiring of the search-indexer: settings -> engine -> service and consumer.

Nothing else builds objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from polyfhir_bus.claim_check import PrimaryStoreVersions
from polyfhir_bus.consumer import BatchConsumer
from polyfhir_bus.indexing import wiring as indexing
from polyfhir_bus.indexing.composite import with_composite
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.config import BackendRole
from polyfhir_core.contracts.primary_store import PRIMARY_STORE, PrimaryStore
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_search import metrics
from polyfhir_search.adapters.elasticsearch import ElasticsearchIndex
from polyfhir_search.adapters.engine_index import EngineIndex
from polyfhir_search.adapters.opensearch import OpenSearchIndex
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
    if primary is None and settings.kafka_bootstrap.strip():
        log.warning(
            "POLYFHIR_PRIMARY_STORE_URL is unset: events of resources too large for the"
            " broker (claim checks) will be dead-lettered instead of indexed"
        )
    return indexing.build_consumer(
        settings,
        indexer,
        consumer_name=CONSUMER_NAME,
        metrics=metrics.INDEXER,
        versions=PrimaryStoreVersions(primary) if primary is not None else None,
    )


@dataclass
class SearchIndexer(indexing.ConsumingIndexer):
    engine: EngineIndex
    service: IndexService
    indexer: Indexer
    consumer: BatchConsumer | None
    clients: ServiceClients | None = None  # built here, closed here

    async def close_engine(self) -> None:
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
    Batch size and write retries come from the composite config when
    ``POLYFHIR_CONFIG_FILE`` is set (``polyfhir_bus.indexing.composite``).
    """
    settings = with_composite(settings, BackendRole.SEARCH)
    engine = build_engine(settings)
    await indexing.prepare_engine(
        engine, engine.ensure_index, settings.startup_timeout_s, "search engine"
    )
    freshness = Freshness(engine)
    registry = registry or SearchParameterRegistry.default()
    indexer = Indexer(engine, freshness, registry, settings.apply_retry)
    clients = None
    if primary is None and settings.primary_store_url:
        clients = ServiceClients()
        primary = clients.connect(PRIMARY_STORE, settings.primary_store_url)
    consumer = build_consumer(settings, indexer, primary)
    return SearchIndexer(engine, IndexService(engine, freshness), indexer, consumer, clients)
