"""Wiring of the terminology-indexer: settings -> store -> service and consumer.

Nothing else builds objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from polyfhir_bus.claim_check import PrimaryStoreVersions
from polyfhir_bus.consumer import BatchConsumer
from polyfhir_bus.indexing import wiring as indexing
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.contracts.primary_store import PRIMARY_STORE, PrimaryStore
from polyfhir_servicekit.contract_client import ServiceClients
from polyfhir_terminology import metrics
from polyfhir_terminology.adapters.database import Database
from polyfhir_terminology.adapters.postgres import PostgresDatabase
from polyfhir_terminology.adapters.sql_store import SqlTerminologyStore
from polyfhir_terminology.adapters.sqlite import SqliteDatabase
from polyfhir_terminology.service_layer.indexer import Indexer
from polyfhir_terminology.service_layer.primary_pull import PrimaryPull, PulledTerminology
from polyfhir_terminology.service_layer.terminology_service import TerminologyService
from polyfhir_terminology.settings import TerminologySettings

log = logging.getLogger(__name__)
CONSUMER_NAME = "polyfhir-terminology-indexer"


def build_database(url: str, schema: str = "terminology") -> Database:
    """``sqlite:///path`` (``sqlite:///:memory:``) or a ``postgresql://`` DSN."""
    if url.startswith(("postgres://", "postgresql://", "postgresql+asyncpg://")):
        return PostgresDatabase(url, schema=schema)
    if url.startswith("sqlite://"):
        return SqliteDatabase(url.removeprefix("sqlite://").removeprefix("/") or None)
    raise ValueError(f"POLYFHIR_TERMINOLOGY_URL: not sqlite:///path or postgresql://: {url!r}")


@dataclass
class TerminologyIndexer(indexing.ConsumingIndexer):
    store: SqlTerminologyStore
    service: TerminologyService
    indexer: Indexer
    consumer: BatchConsumer | None
    clients: ServiceClients | None = None  # built here, closed here

    async def close_engine(self) -> None:
        try:
            await self.store.close()
        finally:
            if self.clients is not None:
                await self.clients.close()


def build_consumer(
    settings: TerminologySettings, indexer: Indexer, primary: PrimaryStore | None
) -> BatchConsumer | None:
    if primary is None and settings.kafka_bootstrap.strip():
        log.warning(
            "POLYFHIR_PRIMARY_STORE_URL is unset: CodeSystems too large for the broker"
            " (claim checks) will be dead-lettered instead of indexed"
        )
    return indexing.build_consumer(
        settings,
        indexer,
        consumer_name=CONSUMER_NAME,
        metrics=metrics.INDEXER,
        versions=PrimaryStoreVersions(primary) if primary is not None else None,
    )


async def bootstrap(
    settings: TerminologySettings, primary: PrimaryStore | None = None
) -> TerminologyIndexer:
    """Store migrated and ready; call :meth:`TerminologyIndexer.start` to consume.

    ``primary`` (for claim checks) defaults to a client of POLYFHIR_PRIMARY_STORE_URL.
    """
    database = build_database(settings.terminology_url, settings.terminology_schema)
    store = SqlTerminologyStore(database)
    await indexing.prepare_engine(
        store, store.ensure_schema, settings.startup_timeout_s, "terminology store"
    )
    freshness = Freshness(store)
    indexer = Indexer(store, freshness)
    clients = None
    if primary is None and settings.primary_store_url:
        clients = ServiceClients()
        primary = clients.connect(PRIMARY_STORE, settings.primary_store_url)
    service = TerminologyService(store, freshness, settings.terminology_max_expansion)
    consumer = build_consumer(settings, indexer, primary)
    return TerminologyIndexer(store, service, indexer, consumer, clients)


@dataclass
class EmbeddedTerminology:
    """The terminology index inside the gateway's process (``polyfhir run``)."""

    index: PulledTerminology
    store: SqlTerminologyStore

    async def close(self) -> None:
        await self.store.close()


def beside_primary(primary_url: str) -> str:
    """The embedded store follows the primary: the same PostgreSQL database (its own
    schema), a SQLite file next to the primary's, memory for a memory primary."""
    if primary_url.startswith(("postgres://", "postgresql://", "postgresql+asyncpg://")):
        return primary_url
    path = primary_url.removeprefix("sqlite://").removeprefix("/")
    if path in ("", ":memory:"):
        return "sqlite:///:memory:"
    return f"sqlite:///{path.removesuffix('.db')}.terminology.db"


async def embedded(primary: PrimaryStore, settings: TerminologySettings) -> EmbeddedTerminology:
    """The same service over its own store, fed by pulling from ``primary`` (no Kafka)."""
    database = build_database(settings.terminology_url, settings.terminology_schema)
    store = SqlTerminologyStore(database)
    await indexing.prepare_engine(
        store, store.ensure_schema, settings.startup_timeout_s, "terminology store"
    )
    service = TerminologyService(store, Freshness(store), settings.terminology_max_expansion)
    return EmbeddedTerminology(PulledTerminology(service, PrimaryPull(primary, store)), store)
