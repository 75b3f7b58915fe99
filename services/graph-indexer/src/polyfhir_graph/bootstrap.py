"""Wiring of the graph-indexer: settings -> engine -> service and consumer.

Nothing else builds objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from polyfhir_bus.consumer import BatchConsumer
from polyfhir_bus.indexing import wiring as indexing
from polyfhir_bus.indexing.composite import with_composite
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.config import BackendRole
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_graph import metrics
from polyfhir_graph.adapters.cypher import CypherGraph
from polyfhir_graph.adapters.falkordb import FalkorGraph
from polyfhir_graph.adapters.neo4j import Neo4jGraph
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


@dataclass
class GraphIndexer(indexing.ConsumingIndexer):
    store: CypherGraph
    service: GraphService
    indexer: Indexer
    consumer: BatchConsumer | None

    async def close_engine(self) -> None:
        await self.store.close()


async def bootstrap(
    settings: GraphSettings, registry: SearchParameterRegistry | None = None
) -> GraphIndexer:
    """Engine ready and indexes created; call :meth:`GraphIndexer.start` to consume.

    Batch size and write retries come from the composite config when
    ``POLYFHIR_CONFIG_FILE`` is set (``polyfhir_bus.indexing.composite``)."""
    settings = with_composite(settings, BackendRole.GRAPH)
    store = build_store(settings)
    await indexing.prepare_engine(
        store, store.ensure_schema, settings.startup_timeout_s, "graph engine"
    )
    registry = registry or SearchParameterRegistry.default()
    freshness = Freshness(store)
    indexer = Indexer(store, freshness, registry, settings.apply_retry)
    consumer = indexing.build_consumer(
        settings, indexer, consumer_name=CONSUMER_NAME, metrics=metrics.INDEXER
    )
    return GraphIndexer(store, GraphService(store, freshness, registry), indexer, consumer)
