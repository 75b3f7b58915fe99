"""The graph-indexer's side of ``polyfhir_core.contracts.graph_index.GraphIndex``."""

from __future__ import annotations

from polyfhir_core.contracts.graph_index import (
    ChainWalk,
    CompartmentPage,
    CompartmentRequest,
    GraphHits,
    GraphStats,
    HasWalk,
)
from polyfhir_core.contracts.search_index import AppliedVersion, IndexedVersion
from polyfhir_core.errors import BadRequest
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.registry.compartments import compartment_members, compartment_params
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext
from polyfhir_graph.domain.paths import chain_path, edge_params, has_path
from polyfhir_graph.service_layer.freshness import Freshness
from polyfhir_graph.service_layer.ports import CompartmentQuery, GraphStore

MAX_KEYS = 10_000
MAX_WAIT_MS = 60_000


def _bounded(what: str, n: int, limit: int) -> None:
    if not 0 <= n <= limit:
        raise BadRequest(f"{what} must be between 0 and {limit}, got {n}")


def _capped(timeout_ms: int) -> int:
    """Waits are bounded: negative means do not wait, more than a minute means a minute."""
    return min(max(timeout_ms, 0), MAX_WAIT_MS)


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


class GraphService:
    """Every call is bound to one tenant (``ctx``); every statement filters by it."""

    def __init__(
        self, store: GraphStore, freshness: Freshness, registry: SearchParameterRegistry
    ) -> None:
        self._store = store
        self._freshness = freshness
        self._registry = registry

    async def chain_sources(self, ctx: TenantContext, walk: ChainWalk) -> GraphHits:
        _bounded("target_ids", len(walk.target_ids), MAX_KEYS)
        _bounded("limit", walk.limit, MAX_KEYS)
        return await self._store.walk(
            ctx.tenant.value, chain_path(walk, self._registry), walk.limit
        )

    async def has_targets(self, ctx: TenantContext, walk: HasWalk) -> GraphHits:
        _bounded("source_ids", len(walk.source_ids), MAX_KEYS)
        _bounded("limit", walk.limit, MAX_KEYS)
        return await self._store.walk(ctx.tenant.value, has_path(walk, self._registry), walk.limit)

    async def compartment(self, ctx: TenantContext, request: CompartmentRequest) -> CompartmentPage:
        _bounded("patient_ids", len(request.patient_ids), MAX_KEYS)
        _bounded("limit", request.limit, MAX_KEYS)
        query = CompartmentQuery(
            patient_ids=request.patient_ids,
            links=compartment_links(request.types, self._registry),
            types=request.types,
            since=request.since,
            after=request.after,
            limit=request.limit,
        )
        return await self._store.compartment(ctx.tenant.value, query)

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
        return await self._store.versions(ctx.tenant.value, keys)

    async def scan(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        _bounded("limit", limit, MAX_KEYS)
        return await self._store.scan(ctx.tenant.value, after, limit)

    async def remove(self, ctx: TenantContext, keys: list[ResourceKey]) -> int:
        _bounded("keys", len(keys), MAX_KEYS)
        return await self._store.delete(ctx.tenant.value, keys)

    async def drop_tenant(self, ctx: TenantContext) -> int:
        return await self._store.delete_tenant(ctx.tenant.value)

    async def stats(self, ctx: TenantContext) -> GraphStats:
        live, tombstones, references = await self._store.count(ctx.tenant.value)
        return GraphStats(live, tombstones, references, await self._freshness.positions())

    async def check_ready(self) -> None:
        await self._store.ping()
