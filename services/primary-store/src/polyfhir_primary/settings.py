"""Primary-store settings (``POLYFHIR_*`` environment variables)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from polyfhir_bus.codec import KAFKA_DEFAULT_MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES, EventSizing
from polyfhir_bus.security import KafkaSecuritySettings
from polyfhir_servicekit.workers import workers_field


class PrimarySettings(KafkaSecuritySettings):
    model_config = SettingsConfigDict(env_prefix="POLYFHIR_", extra="ignore")

    primary_url: str = Field(
        default="sqlite:///./data/polyfhir.db",
        description="sqlite:///path/file.db, sqlite:///:memory: or postgresql://user@host/db",
    )
    default_count: int = Field(default=20, ge=1)
    max_count: int = Field(default=1000, ge=1)
    max_chain_depth: int = Field(default=4, ge=1, le=8)
    default_total: Literal["none", "estimate", "accurate"] | None = Field(
        default=None,
        description="Bundle.total of a search that sends no _total; unset: estimate on"
        " PostgreSQL (exact up to 100 matches, the planner's estimate beyond), accurate on"
        " SQLite (which has no estimate to offer)",
    )
    pg_pool_min: int = Field(default=2, ge=1)
    pg_pool_max: int = Field(default=10, ge=1)
    pg_random_page_cost: float = Field(
        default=1.1,
        gt=0,
        description="the planner's cost of an index probe, for the store's sessions (the"
        " server's default of 4 is for spinning disks; with SSDs or cached data it puts a"
        " search's probes in the wrong order)",
    )
    sqlite_readers: int = Field(default=2, ge=0)
    db_connect_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="how long the first PostgreSQL connection is retried (backoff 0.5 s"
        " doubling to 5 s, each attempt logged) before the service gives up (exit code 4)",
    )
    tenancy_strategy: Literal["shared", "schema", "database"] = Field(
        default="shared",
        description="where each tenant's data lives (docs/tenancy.md): shared tables with a"
        " tenant column; a PostgreSQL schema per tenant; a database (PostgreSQL) or file"
        " (SQLite) per tenant",
    )
    tenant_pools_max: int = Field(
        default=16,
        ge=1,
        description="database per tenant: open per-tenant databases (pools) at most; the"
        " least recently used idle one is closed to open another",
    )
    tenant_connections_max: int = Field(
        default=32,
        ge=1,
        description="database per tenant on PostgreSQL: connections of all per-tenant pools"
        " together (each pool gets max(1, this / POLYFHIR_TENANT_POOLS_MAX))",
    )
    tenant_directory: str | None = Field(
        default=None,
        description="database per tenant on SQLite: the folder of the tenants' files; unset:"
        " <primary file>.tenants beside the control file",
    )
    relay_tenants_per_sweep: int = Field(
        default=32,
        ge=1,
        description="database per tenant: tenant outboxes the relay reads every 30 s besides"
        " those it was told of (rows of a process that died between commit and hint)",
    )
    kafka_bootstrap: str = Field(
        default="",
        description="host:port[,host:port] of the Kafka brokers; empty = no relay (the outbox"
        " just accumulates)",
    )
    kafka_topic_partitions: int = Field(default=3, ge=1, description="when the relay creates it")
    kafka_max_message_bytes: int = Field(
        default=KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
        ge=MIN_MESSAGE_BYTES,
        description="the broker's message limit (Kafka message.max.bytes / the topic's"
        " max.message.bytes); the producer's max request size and when an event is sent"
        " compressed or as a claim check derive from it, so every event fits",
    )
    relay_compress_above_bytes: int | None = Field(
        default=None,
        ge=1,
        description="events larger than this are sent gzip-compressed; unset: 64 KiB (or half"
        " the message limit when that is smaller)",
    )
    relay_batch_size: int = Field(default=500, ge=1)
    config_file: str | None = Field(
        default=None,
        description="the composite configuration: when set, the relay's batch size and retry"
        " are its sync.batch_size and retry (with the primary backend's overrides)",
    )
    relay_poll_ms: int = Field(default=1000, ge=10, description="fallback poll interval")
    outbox_retention_hours: float = Field(
        default=24.0,
        ge=0,
        description="the relay deletes published outbox rows older than this (in bounded"
        " batches); 0 keeps them for ever. Pending and dead-lettered rows are never deleted",
    )
    outbox_prune_batch: int = Field(default=1000, ge=1, description="rows per DELETE")
    job_heartbeat_s: float = Field(
        default=10.0, gt=0, description="how often a running job's heartbeat is saved"
    )
    job_stale_after_s: float = Field(
        default=60.0,
        gt=0,
        description="a running job whose heartbeat is older was left by a dead process: it is"
        " resumed (resumable kinds) or marked failed; must exceed job_heartbeat_s",
    )
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8081
    workers: int = workers_field()

    @model_validator(mode="after")
    def _jobs_heartbeat_within_stale_limit(self) -> Self:
        if self.job_stale_after_s <= self.job_heartbeat_s:
            raise ValueError(
                "POLYFHIR_JOB_STALE_AFTER_S must exceed POLYFHIR_JOB_HEARTBEAT_S"
                " (else a live job looks abandoned)"
            )
        return self

    @model_validator(mode="after")
    def _sizing_is_consistent(self) -> Self:
        """Refuse, at startup, a compression threshold the message limit cannot hold."""
        try:
            self.event_sizing()
        except ValueError as exc:
            msg = f"POLYFHIR_KAFKA_MAX_MESSAGE_BYTES / POLYFHIR_RELAY_COMPRESS_ABOVE_BYTES: {exc}"
            raise ValueError(msg) from None
        return self

    def event_sizing(self) -> EventSizing:
        if self.relay_compress_above_bytes is None:
            return EventSizing.for_broker(self.kafka_max_message_bytes)
        return EventSizing(self.kafka_max_message_bytes, self.relay_compress_above_bytes)
