"""The graph-indexer's side of ``polyfhir_core.contracts.graph_index.GraphIndex``: the
kit's freshness and reconciler queries (:class:`IndexQueries`) plus the walks,
the compartment and stats."""

from __future__ import annotations

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
from polyfhir_graph.service_layer.ports import CompartmentQuery, GraphStore


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
        self, store: GraphStore, freshness: Freshness, registry: SearchParameterRegistry
    ) -> None:
        super().__init__(store, freshness)
        self._store = store
        self._registry = registry

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

    async def stats(self, ctx: TenantContext) -> GraphStats:
        counts = await self._store.count(ctx.tenant.value)
        return GraphStats(
            resources=sum(counts.live.values()),
            tombstones=counts.tombstones,
            references=sum(link.count for link in counts.links),
            positions=await self._freshness.positions(),
            types=counts.live,
            links=counts.links,
        )
