"""Wiring of the primary store: settings -> database -> service. Nothing else builds objects."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from polyfhir_bus.kafka import KafkaPublisher, ProducerSettings
from polyfhir_bus.relay import OutboxRelay, RelaySettings
from polyfhir_core.config import load_config
from polyfhir_core.errors import FhirError
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_primary.adapters.database import Database
from polyfhir_primary.adapters.sql.postgres import PostgresDatabase
from polyfhir_primary.adapters.sql.sqlite import SqliteDatabase
from polyfhir_primary.metrics import PrometheusRelayMetrics
from polyfhir_primary.search import Limits
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_primary.settings import PrimarySettings


class ConfigurationError(FhirError):
    status = 500
    code = "exception"


def sqlite_path(url: str) -> str | None:
    """``sqlite:///rel.db`` -> ``rel.db``; ``sqlite:////abs.db`` -> ``/abs.db``; memory -> None."""
    rest = url.removeprefix("sqlite://")
    if rest in ("", "/", "/:memory:", ":memory:"):
        return None
    return rest[1:] if rest.startswith("/") else rest


async def open_database(settings: PrimarySettings) -> Database:
    url = settings.primary_url
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        sqlite = SqliteDatabase(sqlite_path(url), readers=settings.sqlite_readers)
        await sqlite.open()
        return sqlite
    if scheme in ("postgresql", "postgres"):
        pg = PostgresDatabase(
            url, settings.pg_pool_min, settings.pg_pool_max, settings.pg_random_page_cost
        )
        await pg.open()
        return pg
    raise ConfigurationError(
        f"POLYFHIR_PRIMARY_URL: unsupported scheme {scheme!r} (sqlite or postgresql)"
    )


def build_relay(settings: PrimarySettings, database: Database) -> OutboxRelay | None:
    """The outbox relay when POLYFHIR_KAFKA_BOOTSTRAP is set (else the outbox accumulates)."""
    if not settings.kafka_bootstrap.strip():
        return None
    sizing = settings.event_sizing()  # one limit: the producer's and the relay's encoding
    publisher = KafkaPublisher(
        settings.kafka_bootstrap,
        settings.kafka_topic_partitions,
        settings=ProducerSettings.for_broker(sizing.max_message_bytes),
    )
    return OutboxRelay(database, publisher, relay_settings(settings), PrometheusRelayMetrics())


def relay_settings(settings: PrimarySettings) -> RelaySettings:
    """Batch size and retry: the composite config's ``sync.batch_size`` and ``retry`` of
    the primary backend when ``POLYFHIR_CONFIG_FILE`` is set, else
    ``POLYFHIR_RELAY_BATCH_SIZE`` and the relay's default backoff."""
    relay = RelaySettings(
        batch_size=settings.relay_batch_size,
        poll_interval=settings.relay_poll_ms / 1000,
        sizing=settings.event_sizing(),
    )
    if not settings.config_file:
        return relay
    config = load_config(settings.config_file)
    primary = config.primary
    return replace(
        relay, batch_size=config.sync_for(primary).batch_size, retry=config.retry_for(primary)
    )


@dataclass(slots=True)
class PrimaryStoreApp:
    service: StoreService
    database: Database
    relay: OutboxRelay | None = None

    async def close(self) -> None:
        await self.service.jobs.close()  # running jobs stay running, released to the next process
        if self.relay is not None:
            await self.relay.stop()
        await self.database.close()


async def bootstrap(settings: PrimarySettings | None = None) -> PrimaryStoreApp:
    settings = settings or PrimarySettings()
    database = await open_database(settings)
    registry = SearchParameterRegistry.default()

    service = StoreService(
        db=database,
        indexer=extract_index_values,
        registry=registry,
        limits=Limits(
            settings.default_count,
            settings.max_count,
            settings.max_chain_depth,
            settings.default_total
            or ("estimate" if database.dialect == "postgresql" else "accurate"),
        ),
        job_heartbeat_s=settings.job_heartbeat_s,
        job_stale_after_s=settings.job_stale_after_s,
    )
    await service.jobs.start()  # resumes the reindex jobs a stopped process left running
    relay = build_relay(settings, database)
    if relay is not None:
        relay.start()
    return PrimaryStoreApp(service, database, relay)
