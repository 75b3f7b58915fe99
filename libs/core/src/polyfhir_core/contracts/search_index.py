"""The contract between the gateway and a search secondary (the search-indexer service).

The search-indexer keeps a derived full-text index (OpenSearch or
Elasticsearch) fed by change events. The gateway never talks to the engine: it
holds a :class:`SearchIndex`, in practice a client proxy of the search-indexer's
internal API derived from the Protocol (:data:`SEARCH_INDEX`, served at
``POST /internal/v1/search-index/{call}``; see ``polyfhir_core.contracts.contract``).

Every call is bound to one tenant: the index always filters by tenant.

Freshness is expressed in **positions**. The outbox relay gives every event it
publishes a position, gapless and increasing per Kafka partition in publish
order (``polyfhir-position`` header, see docs/events.md). An indexer records,
per partition, the highest position it has applied. The primary knows, per
tenant and partition, the position of the tenant's last published change
(:class:`polyfhir_core.contracts.primary_store.TenantPositions`). A secondary is fresh for a
tenant when, for every partition, its applied position is at least the
tenant's, and the tenant has no unpublished changes.

Positions alone cannot show what an index *lost*: an index re-created empty
(engine restart, deletion) or restored from an older snapshot, or a stream
that lost events (a memory-only broker restarted), still records the highest
positions it applies next. So the index also proves that it is **complete**
(:class:`IndexState`): a generation document kept in the engine with the
documents says whether this index was filled from the primary since it was
created and has seen no gap in the gapless positions since. An index that is
not complete refuses full-text searches with :class:`polyfhir_core.errors.IndexNotFresh`
(the gateway falls back to the primary) until a repair of every tenant has
caught up and called :meth:`SearchIndex.mark_complete`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from polyfhir_core.contracts.contract import Contract
from polyfhir_core.contracts.secondary import IndexedSecondary
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext


class TextField(StrEnum):
    """What a full-text clause searches."""

    NARRATIVE = "narrative"  # _text: Resource.text.div without markup
    CONTENT = "content"  # _content: every string of the resource (and its narrative)
    TOKEN_TEXT = "token_text"  # noqa: S105 (not a secret) [param]:text on a token: CodeableConcept.text, Coding.display
    STRING = "string"  # [param]:text on a string parameter (treated as words, stemmed)


@dataclass(frozen=True, slots=True)
class TextClause:
    """One FHIR parameter occurrence answered by full text.

    ``values`` are alternatives (OR, the commas of the query string), each in the
    ``:text-advanced`` syntax of ``polyfhir_core.search.fulltext``. ``param`` names
    the search parameter for TOKEN_TEXT and STRING (``code``, ``name``) and is
    ``None`` for NARRATIVE and CONTENT. Clauses of one request are ANDed.
    """

    field: TextField
    values: tuple[str, ...]
    param: str | None = None


@dataclass(frozen=True, slots=True)
class TextSearch:
    """Ids of the tenant's current resources matching every clause.

    ``resource_types``: restrict to these types (``None``: any type, system
    search). ``limit``: at most this many ids come back; ``total`` still counts
    every match, so the caller can tell a truncated answer (``total > len(hits)``)
    from a complete one and refuse to ship a huge id set.
    """

    resource_types: tuple[str, ...] | None
    clauses: tuple[TextClause, ...]
    limit: int = 1000


@dataclass(frozen=True, slots=True)
class TextHit:
    resource_type: str
    id: str
    score: float

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.resource_type, self.id)


@dataclass(frozen=True, slots=True)
class TextHits:
    """Hits in descending score order, and how many matched in all."""

    hits: tuple[TextHit, ...]
    total: int

    @property
    def complete(self) -> bool:
        return self.total <= len(self.hits)


@dataclass(frozen=True, slots=True)
class IndexStats:
    """How much the index holds for a tenant and how far it has applied the stream."""

    documents: int
    tombstones: int
    positions: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IndexState:
    """What the index proves about itself (kept in the engine, with the documents).

    ``generation``: the id of this physical index, new whenever it is (re)created
    ("" when the engine holds no generation document at all). ``complete``: filled
    from the primary since it was created, with no gap in the positions since.
    ``gaps``: how many gaps (lost events) it has seen; a repair passes the number it
    started from to :meth:`SearchIndex.mark_complete`, so a gap found during the
    repair keeps the index incomplete. ``positions``: the applied positions.
    """

    generation: str
    complete: bool
    gaps: int = 0
    positions: dict[int, int] = field(default_factory=dict)


@runtime_checkable
class SearchIndex(IndexedSecondary, Protocol):
    """Everything the gateway may ask of a search secondary."""

    async def search_text(self, ctx: TenantContext, request: TextSearch) -> TextHits:
        """Matching ids with scores (current, non-deleted resources of the tenant only)."""

    async def stats(self, ctx: TenantContext) -> IndexStats: ...

    async def index_state(self, ctx: TenantContext) -> IndexState:
        """The index's own proof of completeness (shared by every tenant)."""

    async def mark_complete(self, ctx: TenantContext, generation: str, gaps: int) -> bool:
        """A repair of every tenant that started at (``generation``, ``gaps``) has caught
        up: mark the index complete. ``False`` (nothing changed) when the index was
        re-created or saw another gap since."""

    async def begin_rebuild(self, ctx: TenantContext) -> IndexState:
        """Zero-downtime rebuild, step 1: a new generation that receives the live stream
        (and what the caller republishes) while the current one keeps answering. Returns
        its state; a rebuild already under way is resumed."""

    async def finish_rebuild(self, ctx: TenantContext, generation: str, gaps: int) -> bool:
        """Step 2, once every tenant was republished and applied: switch searches to the new
        generation atomically and delete the old one. ``False`` (nothing switched) when it
        is not that generation any more, saw a gap, or has not caught up."""


SEARCH_INDEX = Contract[SearchIndex](SearchIndex, "/internal/v1/search-index", "search index")
"""The search-index contract as remote calls (served by the search-indexer service)."""
