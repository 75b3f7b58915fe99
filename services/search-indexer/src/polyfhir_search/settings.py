"""Search-indexer settings (``POLYFHIR_*`` environment variables): the kit's shared
indexer settings plus the search engine's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from polyfhir_bus.indexing.settings import IndexerSettings


class SearchSettings(IndexerSettings):
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
    consumer_group: str = "polyfhir-search-indexer"
    port: int = 8082
