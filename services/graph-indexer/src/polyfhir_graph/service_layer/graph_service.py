"""The graph-indexer's side of ``polyfhir_core.contracts.graph_index.GraphIndex``: the
kit's freshness and reconciler queries (:class:`IndexQueries`) plus the walks,
the compartment and stats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_bus.indexing.queries import MAX_KEYS, IndexQueries, bounded
from polyfhir_core.contracts.graph_index import (
    ChainWalk,
    CompartmentPage,
    CompartmentRequest,
    GraphHits,
    GraphStats,
    HasWalk,
)
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.registry.compartments import compartment_members, compartment_params
from polyfhir_core.tenancy import TenantContext
from polyfhir_graph.domain.paths import chain_path, edge_params, has_path
from polyfhir_graph.service_layer.ports import CompartmentQuery, GraphCounts, GraphStore


def compartment_links(
    types: tuple[str, ...] | None, registry: SearchParameterRegistry
) -> tuple[str, ...]:
    """``Type|edge`` for every reference putting a resource of ``types`` (``None``: of
    any type) in the Patient compartment (the R4 CompartmentDefinition); a parameter
    whose rows are another's (``Encounter.patient``: ``subject`` to a Patient) names
    that one's edges."""
    members = types if types is not None else compartment_members("Patient")
    return tuple(
        sorted(
            {
                f"{rtype}|{edge}"
                for rtype in members
                for param in compartment_params("Patient", rtype) or ()
                for edge in edge_params(registry, rtype, param, "Patient")
            }
        )
    )


class GraphService(IndexQueries):
    """Every call is bound to one tenant (``ctx``); every statement filters by it."""

    def __init__(
        self,
        store: GraphStore,
        freshness: Freshness,
        registry: SearchParameterRegistry,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(store, freshness)
        self._store = store
        self._registry = registry
        self._clock = clock
        self._counted: dict[str, tuple[float, GraphCounts]] = {}  # tenant -> (when, counts)
        self._counting: dict[str, asyncio.Task[GraphCounts]] = {}

    async def chain_sources(self, ctx: TenantContext, walk: ChainWalk) -> GraphHits:
        bounded("target_ids", len(walk.target_ids), MAX_KEYS)
        bounded("limit", walk.limit, MAX_KEYS)
        return await self._store.walk(
            ctx.tenant.value, chain_path(walk, self._registry), walk.limit
        )

    async def has_targets(self, ctx: TenantContext, walk: HasWalk) -> GraphHits:
        bounded("source_ids", len(walk.source_ids), MAX_KEYS)
        bounded("limit", walk.limit, MAX_KEYS)
        return await self._store.walk(ctx.tenant.value, has_path(walk, self._registry), walk.limit)

    async def compartment(self, ctx: TenantContext, request: CompartmentRequest) -> CompartmentPage:
        bounded("patient_ids", len(request.patient_ids), MAX_KEYS)
        bounded("limit", request.limit, MAX_KEYS)
        query = CompartmentQuery(
            patient_ids=request.patient_ids,
            links=compartment_links(request.types, self._registry),
            types=request.types,
            since=request.since,
            after=request.after,
            limit=request.limit,
        )
        return await self._store.compartment(ctx.tenant.value, query)

    async def stats(self, ctx: TenantContext, max_age_s: float = 0.0) -> GraphStats:
        counts = await self._counts(ctx.tenant.value, max_age_s)
        return GraphStats(
            resources=sum(counts.live.values()),
            tombstones=counts.tombstones,
            references=sum(link.count for link in counts.links),
            positions=await self._freshness.positions(),
            types=counts.live,
            links=counts.links,
        )

    async def _counts(self, tenant: str, max_age_s: float) -> GraphCounts:
        """Counted now (``max_age_s`` 0), or the last count when recent enough. One count
        per tenant at a time, in a task of its own: a caller that stops waiting (the
        router's short bound) leaves it to finish for the next one."""
        held = self._counted.get(tenant)
        if max_age_s > 0 and held is not None and self._clock() - held[0] <= max_age_s:
            return held[1]
        running = self._counting.get(tenant)
        if running is None or max_age_s <= 0:
            running = asyncio.create_task(self._count(tenant))
            running.add_done_callback(_retrieved)  # its failure is the waiting callers'
            if max_age_s > 0:
                self._counting[tenant] = running
        return await asyncio.shield(running)

    async def _count(self, tenant: str) -> GraphCounts:
        started = self._clock()
        try:
            counts = await self._store.count(tenant)
        finally:
            if self._counting.get(tenant) is asyncio.current_task():
                del self._counting[tenant]
        self._counted[tenant] = (started, counts)
        return counts


def _retrieved(task: asyncio.Task[GraphCounts]) -> None:
    if not task.cancelled():
        task.exception()  # nobody may be waiting any more: not "never retrieved"
