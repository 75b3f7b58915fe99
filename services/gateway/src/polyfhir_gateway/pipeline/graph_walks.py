"""The executor's graph path: chains and ``_has`` answered by walking the reference graph.

For every chain or ``_has`` the router sent to the graph
(``polyfhir_core.planning.reference_walks``):

1. the primary evaluates the terminal filter on the terminal type (ids only);
2. the graph walks from those ids to the searched type (``chain_sources`` /
   ``has_targets``), after the same freshness check as the search secondary
   (``sync.max_read_lag_ms``; started beside the terminal filters, once per
   query), under the backend's query timeout;
3. the candidate sets of a step's typed alternatives are united (``subject.name``
   on Observation: Patient, Group, Device or Location — any may match), those of
   the parameters intersected (they are ANDed), and the primary runs the rest of
   the query — every other filter, sort, paging, includes — restricted to them
   with ``_id``.

More than ``cost.max_shipped_ids`` terminal or candidate ids, a step the
graph cannot type (``subject.name`` on Observation), a graph that is down,
slow or lagging: :class:`Fallback`, and the primary answers the whole query.

The router priced the walk with an assumed candidate count; once the terminal
filter has run, its real count and the graph's fan-out (its stats,
:class:`GraphFanout`) price it again, and when the primary is now the cheaper
route the primary answers (``primary_cheaper``) before the graph is asked.
A walk a routing rule sends to the graph is not re-priced (the operator chose).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from polyfhir_core.config import BackendConfig, CompositeConfig, QueryFeature
from polyfhir_core.contracts.graph_index import ChainWalk, GraphHits, GraphIndex, HasWalk
from polyfhir_core.contracts.primary_store import Page, PrimaryStore
from polyfhir_core.planning import ConfigTables, QueryPart, QueryPlan, RouteDecision
from polyfhir_core.planning.cost_model import PartEstimate
from polyfhir_core.planning.reference_walks import (
    ReferenceWalk,
    candidates_query,
    walk_groups,
)
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.search import SearchQuery
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline.consistency import is_fresh, read_lag_bound
from polyfhir_gateway.pipeline.fallback import Fallback
from polyfhir_gateway.pipeline.graph_fanout import GraphFanout


class GraphWalker:
    def __init__(
        self,
        store: PrimaryStore,
        config: CompositeConfig,
        graphs: Mapping[str, GraphIndex],
        tables: ConfigTables,
        registry: SearchParameterRegistry,
        timeouts_ms: Mapping[str, int],
        fanout: GraphFanout | None = None,
    ) -> None:
        self.store, self.config, self.graphs = store, config, dict(graphs)
        self.tables, self.registry, self.timeouts_ms = tables, registry, dict(timeouts_ms)
        self.fanout = fanout or GraphFanout()

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
        groups = walk_groups(query.resource_type, params, self.registry)
        if groups is None:
            raise Fallback(
                "not_walkable", "a reference step has no target type", backend=backend.id
            )
        priced = all(d.rule is None for d in walked)  # a rule's choice is not re-priced
        # the freshness check runs beside the terminal filters (one round trip or two
        # fewer on the critical path); every walk waits for it before asking the graph
        fresh = asyncio.ensure_future(self._freshness(ctx, graph, backend))
        try:
            candidates = await self._walk_groups(ctx, query, groups, graph, backend, fresh, priced)
        finally:
            _discard(fresh)
        if not candidates:
            return Page([], total=0)
        walks = tuple(w for alternatives in groups for w in alternatives)
        return await self.store.search(ctx, candidates_query(query, walks, sorted(candidates)))

    async def _walk_groups(
        self,
        ctx: TenantContext,
        query: SearchQuery,
        groups: tuple[tuple[ReferenceWalk, ...], ...],
        graph: GraphIndex,
        backend: BackendConfig,
        fresh: asyncio.Future[bool],
        priced: bool,
    ) -> set[str]:
        """The candidates: each group's typed alternatives united, the groups intersected."""
        candidates: set[str] | None = None
        for alternatives in groups:  # parameters are ANDed, a step's target types ORed
            found: set[str] = set()
            for walk in alternatives:
                found |= await self._candidates(
                    ctx, query.resource_type or "", walk, graph, backend, fresh, priced=priced
                )
            if len(found) > self.config.cost.max_shipped_ids:
                raise Fallback(
                    "over_id_cap",
                    f"the united walks reach more than {self.config.cost.max_shipped_ids} ids",
                    backend=backend.id,
                )
            candidates = found if candidates is None else candidates & found
            if not candidates:
                return set()
        return candidates or set()

    async def _candidates(
        self,
        ctx: TenantContext,
        rtype: str,
        walk: ReferenceWalk,
        graph: GraphIndex,
        backend: BackendConfig,
        fresh: asyncio.Future[bool],
        *,
        priced: bool,
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
        if priced:
            await self._still_cheaper(ctx, rtype, walk, len(anchors), graph, backend)
        hits = await self._walk(ctx, graph, backend, fresh, walk.walk(rtype, anchors, cap))
        if not hits.complete:
            raise Fallback(
                "over_id_cap", f"the walk reaches more than {cap} ids", backend=backend.id
            )
        return set(hits.ids)

    async def _still_cheaper(
        self,
        ctx: TenantContext,
        rtype: str,
        walk: ReferenceWalk,
        anchors: int,
        graph: GraphIndex,
        backend: BackendConfig,
    ) -> None:
        """Price the walk with the terminal's real count; the primary answers if cheaper."""
        feature = QueryFeature.CHAIN if walk.kind == "chain" else QueryFeature.HAS
        part = QueryPart(feature, (walk.param,))
        fanouts = await self.fanout.of(ctx, backend.id, graph, walk, rtype)
        estimate = PartEstimate(anchors, fanouts=fanouts)
        model = self.tables.costs
        on_graph = model.route_cost(part, backend, estimate)
        on_primary = model.route_cost(part, self.tables.primary, estimate)
        if on_primary.score < on_graph.score:
            raise Fallback(
                "primary_cheaper",
                f"{anchors} terminal matches: primary {on_primary.score:.1f} < "
                f"{backend.id} {on_graph.score:.1f}",
                backend=backend.id,
            )

    async def _freshness(
        self, ctx: TenantContext, graph: GraphIndex, backend: BackendConfig
    ) -> bool:
        """Has the graph applied the tenant's last change (waiting up to the read lag)?
        A walk over a graph still applying it could miss a reference it adds."""
        lag_ms = read_lag_bound(self.tables.sync[backend.id], backend)
        return lag_ms is None or await is_fresh(ctx, self.store, graph, lag_ms)

    async def _walk(
        self,
        ctx: TenantContext,
        graph: GraphIndex,
        backend: BackendConfig,
        fresh: asyncio.Future[bool],
        request: ChainWalk | HasWalk,
    ) -> GraphHits:
        lag_ms = read_lag_bound(self.tables.sync[backend.id], backend)
        deadline = (self.timeouts_ms[backend.id] + (lag_ms or 0)) / 1000
        hits: GraphHits | None = None
        try:
            async with asyncio.timeout(deadline):
                if await asyncio.shield(fresh):  # shared by every walk of the query
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


def _discard(task: asyncio.Future[bool]) -> None:
    """Stop the freshness check nobody needs any more (its error was reported, or moot)."""
    if task.done():
        if not task.cancelled():
            task.exception()  # retrieved: a check whose walk never ran is not an error
    else:
        task.cancel()
