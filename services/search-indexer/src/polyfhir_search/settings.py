"""Search-indexer settings (``POLYFHIR_*`` environment variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from polyfhir_bus.events import DEAD_LETTER_TOPIC, RESOURCE_CHANGES_TOPIC


class SearchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLYFHIR_", extra="ignore")

    kafka_bootstrap: str = Field(
        default="", description="host:port[,host:port]; empty: no consumer (query API only)"
    )
    primary_store_url: str | None = Field(
        default=None,
        description="http://host:port of the primary-store service: the consumer reads the"
        " body of an event too large for the broker (a claim check) from it with vread;"
        " unset: such events are dead-lettered (a warning at startup)",
    )
    search_engine_url: str = "http://127.0.0.1:9200"
    search_engine_kind: Literal["opensearch", "elasticsearch"] = "opensearch"
    search_compatibility_headers: bool = Field(
        default=True,
        description="elasticsearch only: false for OpenSearch-API servers such as osmem",
    )
    search_index_prefix: str = Field(default="polyfhir", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    kafka_topic_partitions: int = Field(
        default=3, ge=1, description="partitions of the topics when this service creates them"
    )
    consumer_group: str = "polyfhir-search-indexer"
    resource_changes_topic: str = RESOURCE_CHANGES_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    batch_size: int = Field(default=500, ge=1)
    batch_max_wait_ms: int = Field(default=50, ge=0)
    startup_timeout_s: float = Field(default=60.0, gt=0)
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8082
