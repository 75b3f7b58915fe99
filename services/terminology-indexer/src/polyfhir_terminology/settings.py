"""Terminology-indexer settings (``POLYFHIR_*`` environment variables): the kit's shared
indexer settings plus the terminology store's."""

from __future__ import annotations

from pydantic import Field

from polyfhir_bus.indexing.settings import IndexerSettings


class TerminologySettings(IndexerSettings):
    terminology_url: str = Field(
        default="sqlite:///./data/terminology.db",
        description="the store: sqlite:///path (local; sqlite:///:memory: for a throwaway one)"
        " or a postgresql:// DSN (production)",
    )
    terminology_schema: str = Field(
        default="terminology",
        pattern=r"^[a-z_][a-z0-9_]*$",
        description="postgresql: the schema of the tables (created if missing), so the store"
        " can share a database with the primary store",
    )
    terminology_max_expansion: int = Field(
        default=10_000,
        ge=1,
        description="most codes one $expand lists; an expansion without paging (no count)"
        " larger than this is refused as too-costly, a page of any value set is not",
    )
    primary_store_url: str | None = Field(
        default=None,
        description="http://host:port of the primary-store service: the consumer reads the"
        " body of an event too large for the broker (a claim check: a big CodeSystem) with"
        " vread; unset: such events are dead-lettered (a warning at startup)",
    )
    consumer_group: str = "polyfhir-terminology-indexer"
    port: int = 8084
