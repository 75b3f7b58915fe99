"""Wiring of the primary store: settings -> database -> service. Nothing else builds objects."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from polyfhir_bus.kafka import KafkaPublisher, ProducerSettings
from polyfhir_bus.relay import OutboxRelay, RelaySettings
from polyfhir_core.config import load_config
from polyfhir_core.errors import FhirError
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_primary.adapters.database import Database
from polyfhir_primary.adapters.sql.postgres import PostgresDatabase
from polyfhir_primary.adapters.sql.sqlite import SqliteDatabase
from polyfhir_primary.adapters.sql.tenancy.database_per_tenant import DatabasePerTenant
from polyfhir_primary.adapters.sql.tenancy.schema_per_tenant import SchemaPerTenantDatabase
from polyfhir_primary.adapters.sql.tenancy.tenant_homes import (
    PostgresTenantHome,
    SqliteTenantHome,
    TenantHome,
)
from polyfhir_primary.adapters.sql.tenancy.tenant_pools import TenantDatabase
from polyfhir_primary.metrics import PrometheusRelayMetrics
from polyfhir_primary.search import Limits
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.startup import ConfigurationInvalid, retry_until_reachable


class ConfigurationError(FhirError, ConfigurationInvalid):
    status = 500
    code = "exception"


def sqlite_path(url: str) -> str | None:
    """``sqlite:///rel.db`` -> ``rel.db``; ``sqlite:////abs.db`` -> ``/abs.db``; memory -> None."""
    rest = url.removeprefix("sqlite://")
    if rest in ("", "/", "/:memory:", ":memory:"):
        return None
    return rest[1:] if rest.startswith("/") else rest


async def open_database(settings: PrimarySettings) -> Database:
    """The primary database under the configured tenancy strategy (docs/tenancy.md)."""
    scheme = urlsplit(settings.primary_url).scheme
    if scheme == "sqlite":
        return await _open_sqlite(settings)
    if scheme in ("postgresql", "postgres"):
        return await _open_postgres(settings)
    raise ConfigurationError(
        f"POLYFHIR_PRIMARY_URL: unsupported scheme {scheme!r} (sqlite or postgresql)"
    )


# The server is starting, restarting or not reachable yet: worth another attempt.
PG_NOT_YET_REACHABLE = (OSError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError)
# It answered and refused us: no retry changes that, the settings must.
PG_REFUSED = (
    asyncpg.InvalidAuthorizationSpecificationError,  # unknown user, bad password, pg_hba
    asyncpg.InvalidCatalogNameError,  # no such database
)


async def open_postgres(pg: PostgresDatabase, timeout_s: float) -> None:
    """The first connection, retried with bounded backoff (logged) while the server is not
    reachable yet; a refused login is a configuration error at once."""
    try:
        await retry_until_reachable(
            pg.open,
            "PostgreSQL (POLYFHIR_PRIMARY_URL)",
            timeout_s=timeout_s,
            transient=PG_NOT_YET_REACHABLE,
        )
    except PG_REFUSED as exc:
        msg = f"PostgreSQL refused the connection (POLYFHIR_PRIMARY_URL): {exc}"
        raise ConfigurationError(msg) from exc


async def _open_sqlite(settings: PrimarySettings) -> Database:
    url, strategy = settings.primary_url, settings.tenancy_strategy
    if strategy == "schema":
        raise ConfigurationError(
            "POLYFHIR_TENANCY_STRATEGY=schema needs PostgreSQL (SQLite has no schemas):"
            " use shared or database"
        )
    home = _sqlite_home(settings, url) if strategy == "database" else None
    sqlite = SqliteDatabase(sqlite_path(url), readers=settings.sqlite_readers)
    await sqlite.open()
    if home is None:
        return sqlite
    return await _per_tenant(settings, sqlite, home)


async def _open_postgres(settings: PrimarySettings) -> Database:
    url, strategy = settings.primary_url, settings.tenancy_strategy
    kind = SchemaPerTenantDatabase if strategy == "schema" else PostgresDatabase
    pg = kind(url, settings.pg_pool_min, settings.pg_pool_max, settings.pg_random_page_cost)
    await open_postgres(pg, settings.db_connect_timeout_s)
    if strategy != "database":
        return pg
    per_pool = max(1, settings.tenant_connections_max // settings.tenant_pools_max)
    home = PostgresTenantHome(pg, url, per_pool, settings.pg_random_page_cost)
    return await _per_tenant(settings, pg, home)


def _sqlite_home(settings: PrimarySettings, url: str) -> SqliteTenantHome:
    folder = settings.tenant_directory
    control = sqlite_path(url)
    if folder is None and control is None:
        raise ConfigurationError(
            "POLYFHIR_TENANCY_STRATEGY=database on an in-memory SQLite control database"
            " needs POLYFHIR_TENANT_DIRECTORY (where the tenants' files go)"
        )
    directory = Path(folder) if folder else Path(f"{control}.tenants")
    return SqliteTenantHome(directory, settings.sqlite_readers)


async def _per_tenant(
    settings: PrimarySettings, control: TenantDatabase, home: TenantHome
) -> DatabasePerTenant:
    database = DatabasePerTenant(
        control, home, settings.tenant_pools_max, settings.relay_tenants_per_sweep
    )
    try:
        await database.migrate_tenants()
    except BaseException:
        await database.close()
        raise
    return database


def build_relay(settings: PrimarySettings, database: Database) -> OutboxRelay | None:
    """The outbox relay when POLYFHIR_KAFKA_BOOTSTRAP is set (else the outbox accumulates)."""
    if not settings.kafka_bootstrap.strip():
        return None
    sizing = settings.event_sizing()  # one limit: the producer's and the relay's encoding
    publisher = KafkaPublisher(
        settings.kafka_bootstrap,
        settings.kafka_topic_partitions,
        settings=ProducerSettings.for_broker(sizing.max_message_bytes),
        security=settings.kafka_security(),
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
        retention=(
            timedelta(hours=settings.outbox_retention_hours)
            if settings.outbox_retention_hours > 0
            else None
        ),
        prune_batch=settings.outbox_prune_batch,
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
