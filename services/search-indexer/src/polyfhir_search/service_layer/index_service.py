"""The search-indexer's side of ``polyfhir_core.contracts.search_index.SearchIndex``."""

from __future__ import annotations

from polyfhir_core.contracts.search_index import (
    AppliedVersion,
    IndexedVersion,
    IndexState,
    IndexStats,
    TextHits,
    TextSearch,
)
from polyfhir_core.errors import BadRequest, IndexNotFresh
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext
from polyfhir_search import metrics
from polyfhir_search.domain.queries import search_body
from polyfhir_search.service_layer.freshness import Freshness
from polyfhir_search.service_layer.ports import SearchEngine

MAX_KEYS = 10_000
MAX_WAIT_MS = 60_000


def _bounded(what: str, n: int, limit: int) -> None:
    if not 0 <= n <= limit:
        raise BadRequest(f"{what} must be between 0 and {limit}, got {n}")


def _capped(timeout_ms: int) -> int:
    """Waits are bounded: negative means do not wait, more than a minute means a minute."""
    return min(max(timeout_ms, 0), MAX_WAIT_MS)


class IndexService:
    """Every call is bound to one tenant (``ctx``); the engine queries always filter by it."""

    def __init__(self, engine: SearchEngine, freshness: Freshness) -> None:
        self._engine = engine
        self._freshness = freshness

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

    async def positions(self, ctx: TenantContext) -> dict[int, int]:
        del ctx  # positions are per partition, shared by every tenant
        return await self._freshness.positions()

    async def wait_applied(
        self, ctx: TenantContext, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool:
        _bounded("versions", len(versions), MAX_KEYS)
        return await self._freshness.wait_applied(ctx.tenant.value, versions, _capped(timeout_ms))

    async def wait_positions(
        self, ctx: TenantContext, positions: dict[int, int], timeout_ms: int
    ) -> bool:
        del ctx
        return await self._freshness.wait_positions(positions, _capped(timeout_ms))

    async def versions(self, ctx: TenantContext, keys: list[ResourceKey]) -> list[IndexedVersion]:
        _bounded("keys", len(keys), MAX_KEYS)
        return await self._engine.versions(ctx.tenant.value, keys)

    async def scan(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        _bounded("limit", limit, MAX_KEYS)
        return await self._engine.scan(ctx.tenant.value, after, limit)

    async def remove(self, ctx: TenantContext, keys: list[ResourceKey]) -> int:
        _bounded("keys", len(keys), MAX_KEYS)
        return await self._engine.delete(ctx.tenant.value, keys)

    async def drop_tenant(self, ctx: TenantContext) -> int:
        return await self._engine.delete_tenant(ctx.tenant.value)

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

    async def check_ready(self) -> None:
        await self._engine.ping()
