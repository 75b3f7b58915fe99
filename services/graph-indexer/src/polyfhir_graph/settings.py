"""Graph-indexer settings (``POLYFHIR_*`` environment variables): the kit's shared
indexer settings plus the graph engine's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from polyfhir_bus.indexing.settings import IndexerSettings


class GraphSettings(IndexerSettings):
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
    consumer_group: str = "polyfhir-graph-indexer"
    port: int = 8083
