"""The ``POLYFHIR_*`` settings every change-stream indexer shares.

An indexer's settings class derives from :class:`IndexerSettings`, adds its
engine's fields and overrides ``consumer_group`` and ``port`` defaults.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from polyfhir_bus.events import DEAD_LETTER_TOPIC, RESOURCE_CHANGES_TOPIC
from polyfhir_bus.security import KafkaSecuritySettings
from polyfhir_core.config import RetryConfig


class IndexerSettings(KafkaSecuritySettings):
    model_config = SettingsConfigDict(env_prefix="POLYFHIR_", extra="ignore")

    kafka_bootstrap: str = Field(
        default="", description="host:port[,host:port]; empty: no consumer (query API only)"
    )
    kafka_topic_partitions: int = Field(
        default=3, ge=1, description="partitions of the topics when this service creates them"
    )
    consumer_group: str
    resource_changes_topic: str = RESOURCE_CHANGES_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    batch_size: int = Field(default=500, ge=1)
    apply_retry: RetryConfig = Field(
        default_factory=RetryConfig,
        description="retry of a failed engine write (JSON); the composite config's wins",
    )
    config_file: str | None = Field(
        default=None,
        description="the composite configuration; its backend's sync.batch_size and retry "
        "replace batch_size and apply_retry",
    )
    backend_id: str | None = Field(
        default=None,
        description="this indexer's backend in the composite config (default: the first "
        "enabled backend of its role)",
    )
    batch_max_wait_ms: int = Field(default=50, ge=0)
    startup_timeout_s: float = Field(default=60.0, gt=0)
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int
