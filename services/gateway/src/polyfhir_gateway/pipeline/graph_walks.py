"""The executor's graph path: chains and ``_has`` answered by walking the reference graph.

For every chain or ``_has`` the router sent to the graph
(``polyfhir_core.planning.reference_walks``):

1. the primary evaluates the terminal filter on the terminal type (ids only);
2. the graph walks from those ids to the searched type (``chain_sources`` /
   ``has_targets``), after the same freshness check as the search secondary
   (``sync.max_read_lag_ms``), under the backend's query timeout;
3. the candidate sets of all walks are intersected (the parameters are ANDed)
   and the primary runs the rest of the query — every other filter, sort,
   paging, includes — restricted to them with ``_id``.

More than ``cost.max_shipped_ids`` terminal or candidate ids, a step the
graph cannot type (``subject.name`` on Observation), a graph that is down,
slow or lagging: :class:`Fallback`, and the primary answers the whole query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from polyfhir_core.config import BackendConfig, CompositeConfig
from polyfhir_core.contracts.graph_index import ChainWalk, GraphHits, GraphIndex, HasWalk
from polyfhir_core.contracts.primary_store import Page, PrimaryStore
from polyfhir_core.planning import ConfigTables, QueryPlan, RouteDecision
from polyfhir_core.planning.reference_walks import (
    ReferenceWalk,
    candidates_query,
    reference_walks,
)
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.search import SearchQuery
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline.consistency import is_fresh, read_lag_bound
from polyfhir_gateway.pipeline.fallback import Fallback


class GraphWalker:
    def __init__(
        self,
        store: PrimaryStore,
        config: CompositeConfig,
        graphs: Mapping[str, GraphIndex],
        tables: ConfigTables,
        registry: SearchParameterRegistry,
        timeouts_ms: Mapping[str, int],
    ) -> None:
        self.store, self.config, self.graphs = store, config, dict(graphs)
        self.tables, self.registry, self.timeouts_ms = tables, registry, dict(timeouts_ms)

    async def page(
        self, ctx: TenantContext, query: SearchQuery, plan: QueryPlan, walked: list[RouteDecision]
    ) -> Page:
        backend = self.config.backend(walked[0].backend)
        graph = self.graphs.get(backend.id)
        if graph is None:
            raise Fallback(
                "no_client", f"the gateway has no client for {backend.id}", backend=backend.id
            )
        parts = [plan.analysis.part(d.feature) for d in walked]
        params = tuple(p for part in parts if part is not None for p in part.params)
        walks = reference_walks(query.resource_type, params, self.registry)
        if walks is None:
            raise Fallback(
                "not_walkable", "a reference step has no single target type", backend=backend.id
            )
        candidates: set[str] | None = None
        for walk in walks:
            found = await self._candidates(ctx, query.resource_type or "", walk, graph, backend)
            candidates = found if candidates is None else candidates & found
            if not candidates:
                return Page([], total=0)
        assert candidates is not None
        return await self.store.search(ctx, candidates_query(query, walks, sorted(candidates)))

    async def _candidates(
        self,
        ctx: TenantContext,
        rtype: str,
        walk: ReferenceWalk,
        graph: GraphIndex,
        backend: BackendConfig,
    ) -> set[str]:
        cap = self.config.cost.max_shipped_ids
        terminal = await self.store.search(ctx, walk.terminal_query(cap))
        if terminal.next_token is not None:
            raise Fallback(
                "over_id_cap",
                f"the terminal filter matches more than {cap} ids",
                backend=backend.id,
            )
        anchors = tuple(r.id for r in terminal.resources)
        if not anchors:
            return set()
        hits = await self._walk(ctx, graph, backend, walk.walk(rtype, anchors, cap))
        if not hits.complete:
            raise Fallback(
                "over_id_cap", f"the walk reaches more than {cap} ids", backend=backend.id
            )
        return set(hits.ids)

    async def _walk(
        self,
        ctx: TenantContext,
        graph: GraphIndex,
        backend: BackendConfig,
        request: ChainWalk | HasWalk,
    ) -> GraphHits:
        lag_ms = read_lag_bound(self.tables.sync[backend.id], backend)
        deadline = (self.timeouts_ms[backend.id] + (lag_ms or 0)) / 1000
        hits: GraphHits | None = None
        try:
            async with asyncio.timeout(deadline):
                # freshness first: a walk over a graph still applying the tenant's
                # last change could miss a reference it adds
                if lag_ms is None or await is_fresh(ctx, self.store, graph, lag_ms):
                    if isinstance(request, ChainWalk):
                        hits = await graph.chain_sources(ctx, request)
                    else:
                        hits = await graph.has_targets(ctx, request)
        except TimeoutError:
            raise Fallback(
                "timeout", f"no answer within {deadline * 1000:.0f} ms", backend=backend.id
            ) from None
        except Exception as exc:  # the graph failed: the primary answers
            raise Fallback("error", str(exc) or type(exc).__name__, backend=backend.id) from None
        if hits is None:
            raise Fallback(
                "lagging",
                f"{backend.id} has not applied the tenant's last change",
                backend=backend.id,
            )
        return hits
