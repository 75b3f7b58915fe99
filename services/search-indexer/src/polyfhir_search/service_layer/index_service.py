"""The search-indexer's side of ``polyfhir_core.contracts.search_index.SearchIndex``:
the kit's freshness and reconciler queries (:class:`IndexQueries`) plus text
search, stats and the index generations."""

from __future__ import annotations

from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_bus.indexing.queries import IndexQueries
from polyfhir_core.contracts.search_index import IndexState, IndexStats, TextHits, TextSearch
from polyfhir_core.errors import IndexNotFresh
from polyfhir_core.tenancy import TenantContext
from polyfhir_search import metrics
from polyfhir_search.domain.queries import search_body
from polyfhir_search.service_layer.ports import SearchEngine


class IndexService(IndexQueries):
    """Every call is bound to one tenant (``ctx``); the engine queries always filter by it."""

    def __init__(self, engine: SearchEngine, freshness: Freshness) -> None:
        super().__init__(engine, freshness)
        self._engine = engine

    async def search_text(self, ctx: TenantContext, request: TextSearch) -> TextHits:
        """Refused (IndexNotFresh) unless the index proves it is complete: an index
        re-created empty, restored from an older snapshot or that saw lost events would
        answer with too few hits, and say nothing about it."""
        if not await self._engine.is_complete():
            metrics.INDEX_NOT_FRESH.inc()
            raise IndexNotFresh(
                "the search index is not complete (re-created, restored, or events lost "
                "since it was filled): it is being repaired from the primary"
            )
        return await self._engine.search(search_body(ctx.tenant.value, request))

    async def stats(self, ctx: TenantContext) -> IndexStats:
        documents, tombstones = await self._engine.count(ctx.tenant.value)
        return IndexStats(documents, tombstones, await self._freshness.positions())

    async def index_state(self, ctx: TenantContext) -> IndexState:
        del ctx  # the index is shared by every tenant
        return await self._engine.state()

    async def mark_complete(self, ctx: TenantContext, generation: str, gaps: int) -> bool:
        del ctx
        return await self._engine.mark_complete(generation, gaps)

    async def begin_rebuild(self, ctx: TenantContext) -> IndexState:
        del ctx
        return await self._engine.begin_rebuild()

    async def finish_rebuild(self, ctx: TenantContext, generation: str, gaps: int) -> bool:
        del ctx
        return await self._engine.finish_rebuild(generation, gaps)
