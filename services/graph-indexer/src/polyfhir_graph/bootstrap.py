"""Wiring of the graph-indexer: settings -> engine -> service and consumer.

Nothing else builds objects.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from polyfhir_bus.consumer import BatchConsumer, ConsumerOptions
from polyfhir_core.errors import ServiceUnavailable
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_graph import metrics
from polyfhir_graph.adapters.cypher import CypherGraph
from polyfhir_graph.adapters.falkordb import FalkorGraph
from polyfhir_graph.adapters.neo4j import Neo4jGraph
from polyfhir_graph.service_layer.freshness import Freshness
from polyfhir_graph.service_layer.graph_service import GraphService
from polyfhir_graph.service_layer.indexer import Indexer
from polyfhir_graph.settings import GraphSettings

log = logging.getLogger(__name__)
CONSUMER_NAME = "polyfhir-graph-indexer"


def build_store(settings: GraphSettings) -> CypherGraph:
    if settings.graph_engine_kind == "neo4j":
        return Neo4jGraph(
            settings.graph_engine_url,
            settings.graph_name,
            settings.neo4j_user,
            settings.neo4j_password.get_secret_value(),
            settings.neo4j_database,
        )
    return FalkorGraph(settings.graph_engine_url, settings.graph_name)


def build_consumer(settings: GraphSettings, indexer: Indexer) -> BatchConsumer | None:
    """The change-stream consumer when POLYFHIR_KAFKA_BOOTSTRAP is set."""
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
        indexer,
        consumer_name=CONSUMER_NAME,
        options=options,
        on_error=metrics.count_consumer_error,
        on_dead_letter=metrics.count_dead_letter,
    )


async def ensure_schema(store: CypherGraph, timeout_s: float) -> None:
    """Create the indexes, waiting (bounded) for an engine that is still starting."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            await store.ensure_schema()
            return
        except ServiceUnavailable as exc:
            if loop.time() >= deadline:
                raise
            log.warning("graph engine not ready", extra={"reason": str(exc)})
            await asyncio.sleep(0.5)


@dataclass
class GraphIndexer:
    store: CypherGraph
    service: GraphService
    indexer: Indexer
    consumer: BatchConsumer | None

    async def start(self) -> None:
        if self.consumer is not None:
            await self.consumer.start()

    async def close(self) -> None:
        try:
            if self.consumer is not None:
                await self.consumer.stop()
        finally:
            await self.store.close()


async def bootstrap(
    settings: GraphSettings, registry: SearchParameterRegistry | None = None
) -> GraphIndexer:
    """Engine ready and indexes created; call :meth:`GraphIndexer.start` to consume."""
    store = build_store(settings)
    try:
        await ensure_schema(store, settings.startup_timeout_s)
    except BaseException:
        await store.close()
        raise
    registry = registry or SearchParameterRegistry.default()
    freshness = Freshness(store)
    indexer = Indexer(store, freshness, registry)
    consumer = build_consumer(settings, indexer)
    return GraphIndexer(store, GraphService(store, freshness, registry), indexer, consumer)
