"""The ``POLYFHIR_*`` settings every change-stream indexer shares.

An indexer's settings class derives from :class:`IndexerSettings`, adds its
engine's fields and overrides ``consumer_group`` and ``port`` defaults.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from polyfhir_bus.events import DEAD_LETTER_TOPIC, RESOURCE_CHANGES_TOPIC
from polyfhir_bus.security import KafkaSecuritySettings


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
    batch_max_wait_ms: int = Field(default=50, ge=0)
    startup_timeout_s: float = Field(default=60.0, gt=0)
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int
