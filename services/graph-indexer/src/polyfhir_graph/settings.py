"""Graph-indexer settings (``POLYFHIR_*`` environment variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from polyfhir_bus.events import DEAD_LETTER_TOPIC, RESOURCE_CHANGES_TOPIC


class GraphSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLYFHIR_", extra="ignore")

    kafka_bootstrap: str = Field(
        default="", description="host:port[,host:port]; empty: no consumer (query API only)"
    )
    graph_engine_kind: Literal["falkordb", "neo4j"] = "falkordb"
    graph_engine_url: str = Field(
        default="redis://127.0.0.1:6379",
        description="falkordb: redis://host:port; neo4j: bolt:// or neo4j:// URI",
    )
    graph_name: str = Field(
        default="polyfhir",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="the FalkorDB graph; for Neo4j it names this deployment's positions",
    )
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr("")
    neo4j_database: str | None = Field(default=None, description="None: the server's default")
    kafka_topic_partitions: int = Field(
        default=3, ge=1, description="partitions of the topics when this service creates them"
    )
    consumer_group: str = "polyfhir-graph-indexer"
    resource_changes_topic: str = RESOURCE_CHANGES_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC
    batch_size: int = Field(default=500, ge=1)
    batch_max_wait_ms: int = Field(default=50, ge=0)
    startup_timeout_s: float = Field(default=60.0, gt=0)
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8083
