"""The executor: run a query plan against the primary and a secondary, then merge.

- Chains and ``_has`` on the graph: see ``graph_walks.py`` (terminal filter on
  the primary, walk on the graph, the rest on the primary by ``_id``).

- SECONDARY_FILTERED (the search backend answers the whole query): a page of
  hits in score order, the resources read from the primary by id.
- PRIMARY_ENRICHED / INTERSECTION: the hits' ids replace the full-text
  parameters as an ``_id`` restriction; the primary applies every other filter,
  sort, paging and includes. More hits than ``cost.max_shipped_ids`` are never
  shipped: the primary answers the full text itself.
- Freshness: unless the backend is written synchronously, it is used only once
  it has applied the tenant's last change (``sync.max_read_lag_ms``; the wait
  lives beside the write waits in ``consistency.py``). Whatever
  the SyncMode, an index that cannot prove it is complete refuses the search
  (``IndexNotFresh``): the primary answers (``not_fresh``) while
  :class:`polyfhir_gateway.repair.convergence.Convergence` repairs it.

The secondary call and the freshness check run concurrently under one
deadline. Whatever goes wrong with the secondary — down, slow, erroring,
lagging, too many ids — the primary answers (unless a routing rule says
``fallback = null``: then 503). Errors of the primary itself propagate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from polyfhir_core.config import BackendConfig, CompositeConfig, QueryFeature
from polyfhir_core.contracts.graph_index import GraphIndex
from polyfhir_core.contracts.primary_store import EntryResponse, Page, PrimaryStore
from polyfhir_core.contracts.search_index import SearchIndex, TextHits, TextSearch
from polyfhir_core.contracts.secondary import IndexedSecondary
from polyfhir_core.contracts.terminology import TerminologyIndex
from polyfhir_core.errors import IndexNotFresh, Issue, ServiceUnavailable
from polyfhir_core.planning import (
    EXECUTABLE,
    ConfigTables,
    MergeStrategy,
    QueryPlan,
    RouteDecision,
    RouteReason,
    RoutingContext,
    analyze,
    enriched_ids,
    hits_needed,
    plan_query,
    primary_enriched,
    secondary_filtered,
)
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.search import SearchQuery
from polyfhir_core.tenancy import Operation, TenantContext
from polyfhir_gateway.pipeline.consistency import WriteSync, is_fresh, read_lag_bound
from polyfhir_gateway.pipeline.everything import PatientEverything
from polyfhir_gateway.pipeline.fallback import Fallback
from polyfhir_gateway.pipeline.graph_walks import GraphWalker
from polyfhir_gateway.pipeline.health import HealthMonitor
from polyfhir_gateway.pipeline.metrics import FALLBACKS, ROUTE_DECISIONS
from polyfhir_gateway.pipeline.secondary import Repairable, Secondary
from polyfhir_gateway.pipeline.terminology_codes import TerminologyCodes
from polyfhir_gateway.repair.convergence import Convergence
from polyfhir_gateway.terminology.operations import FALLBACK_ROUTE, TerminologyOperations

log = logging.getLogger(__name__)
WALKED = (QueryFeature.CHAIN, QueryFeature.HAS)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page, the backends that served it (route header) and why a fallback happened."""

    page: Page
    route: tuple[str, ...]
    plan: QueryPlan
    fallback: str | None = None  # "<backend>=<reason>"


class QueryPipeline:
    """Analyzer -> router -> executor -> merger for searches; SyncMode waits for writes."""

    def __init__(
        self,
        store: PrimaryStore,
        config: CompositeConfig,
        indexes: Mapping[str, SearchIndex] | None = None,
        *,
        graphs: Mapping[str, GraphIndex] | None = None,
        terminology: Mapping[str, TerminologyIndex] | None = None,
        terminology_fallback: TerminologyIndex | None = None,
        registry: SearchParameterRegistry | None = None,
        default_count: int = 20,
        max_count: int = 1000,
    ) -> None:
        self.store = store
        self.config = config
        self.indexes = dict(indexes or {})
        self.graphs = dict(graphs or {})
        self.terminology = dict(terminology or {})
        self.registry = registry or SearchParameterRegistry.default()
        self.default_count, self.max_count = default_count, max_count
        self.tables = ConfigTables.of(config)
        self._timeouts = {
            b.id: self._query_timeout_ms(b) for b in (*config.secondaries, *config.standbys)
        }
        secondaries: dict[str, Secondary] = {**self.indexes, **self.graphs, **self.terminology}
        self.monitor = HealthMonitor(config, secondaries)
        self.writes = WriteSync(config, secondaries, self.monitor)
        self.repairable: dict[str, Repairable] = {**self.indexes, **self.graphs}
        self.walker = GraphWalker(
            store, config, self.graphs, self.tables, self.registry, self._timeouts
        )
        self.everything = PatientEverything(
            store, config, self.graphs, self.monitor, self.tables, self._timeouts
        )
        self.convergence = Convergence(store, self.indexes)
        self.codes = TerminologyCodes(store, config, self.terminology, self.tables, self._timeouts)
        self.terminology_ops = self._terminology_operations(terminology_fallback)

    def tenant_holders(self) -> dict[str, IndexedSecondary]:
        """Every secondary holding tenant data (deleting a tenant empties each)."""
        holders: dict[str, IndexedSecondary] = {**self.indexes, **self.graphs, **self.terminology}
        if self.terminology_ops.fallback is not None:
            holders[FALLBACK_ROUTE] = self.terminology_ops.fallback
        return holders

    def use_terminology_fallback(self, fallback: TerminologyIndex) -> None:
        """Answer the operations with ``fallback`` (an in-process index) when no backend can."""
        self.terminology_ops = self._terminology_operations(fallback)

    def _terminology_operations(self, fallback: TerminologyIndex | None) -> TerminologyOperations:
        """The operations use the first enabled terminology backend with a client, else
        ``fallback`` (an in-process index), else they answer 503."""
        backend = next(
            (b for b in self.tables.secondaries if b.id in self.terminology and b.enabled), None
        )
        if backend is None:
            return TerminologyOperations(None, None, self.monitor, fallback)
        return TerminologyOperations(
            self.terminology[backend.id], backend.id, self.monitor, fallback
        )

    # -- planning ----------------------------------------------------------------------

    def plan(self, query: SearchQuery) -> QueryPlan:
        ctx = RoutingContext(
            self.config,
            self.monitor.snapshot(),
            EXECUTABLE,
            tables=self.tables,
            registry=self.registry,
        )
        return plan_query(analyze(query, self.registry), ctx)

    # -- searching ---------------------------------------------------------------------

    async def search(self, ctx: TenantContext, query: SearchQuery) -> SearchResult:
        # the search scope before a secondary sees the query; some scoped callers are
        # served by the primary alone (docs/security.md)
        ctx.permissions.require(Operation.SEARCH, query.resource_type)
        plan = self.plan(query)
        terms = plan.decision(QueryFeature.TERMINOLOGY)
        if terms is not None and terms.secondary:
            return await self._with_codes(ctx, query, plan, terms)
        return await self._planned(ctx, query, plan)

    async def _with_codes(
        self, ctx: TenantContext, query: SearchQuery, plan: QueryPlan, terms: RouteDecision
    ) -> SearchResult:
        """Terminology modifiers as code lists (``terminology_codes.py``), then the rest."""
        if terms.reason is RouteReason.NO_FALLBACK:
            raise ServiceUnavailable(f"terminology cannot be served: {terms.detail}")
        try:
            coded = await self.codes.rewrite(ctx, query, plan, terms)
        except Fallback as fb:
            if terms.fallback is None:
                raise ServiceUnavailable(
                    f"{terms.backend}: {fb}; the routing rule has no fallback"
                ) from None
            FALLBACKS.labels(terms.backend, fb.reason).inc()
            log.info("terminology falls back to the primary's closure", extra={"reason": str(fb)})
            result = await self._planned(ctx, query, plan)
            fallback = ",".join(f for f in (f"{terms.backend}={fb.reason}", result.fallback) if f)
            return replace(result, fallback=fallback)
        if coded is None:  # an empty code set: nothing can match
            return self._served(plan, Page([], total=0), (terms.backend, plan.primary))
        result = await self._planned(ctx, coded, self.plan(coded))
        ROUTE_DECISIONS.labels(terms.feature.value, terms.backend).inc()
        return replace(result, route=(terms.backend, *result.route), plan=plan)

    async def _planned(
        self, ctx: TenantContext, query: SearchQuery, plan: QueryPlan
    ) -> SearchResult:
        walked = [d for d in plan.secondary_decisions if d.feature in WALKED]
        text = plan.decision(QueryFeature.FULL_TEXT)
        text = text if text is not None and text.secondary else None
        leads = [d for d in (text, *walked[:1]) if d is not None]
        if not leads or _primary_only(ctx, query, walked=bool(walked)):
            return self._served(plan, await self.store.search(ctx, query), (plan.primary,))
        for lead in leads:
            if lead.reason is RouteReason.NO_FALLBACK:
                raise ServiceUnavailable(f"{lead.feature.value} cannot be served: {lead.detail}")
        try:
            page = await self._with_secondaries(ctx, query, plan, text, walked)
        except Fallback as fb:
            lead = next((d for d in leads if d.backend == fb.backend), leads[0])
            if lead.fallback is None:
                raise ServiceUnavailable(
                    f"{lead.backend}: {fb}; the routing rule has no fallback"
                ) from None
            FALLBACKS.labels(lead.backend, fb.reason).inc()
            log.info(
                "search falls back to the primary",
                extra={"backend": lead.backend, "reason": str(fb)},
            )
            page = await self.store.search(ctx, query)
            return self._served(plan, page, (plan.primary,), f"{lead.backend}={fb.reason}")
        return self._served(plan, page, plan.backends)

    async def _with_secondaries(
        self,
        ctx: TenantContext,
        query: SearchQuery,
        plan: QueryPlan,
        text: RouteDecision | None,
        walked: list[RouteDecision],
    ) -> Page:
        """Full text, walks, or both: the text hits narrow the query the walks then narrow."""
        if not walked:
            assert text is not None
            return await self._with_secondary(ctx, query, plan, text)
        if text is not None:
            ids = await self._text_ids(ctx, plan, text)
            if not ids:
                return Page([], total=0)
            query = primary_enriched(plan.analysis, ids)
        return await self.walker.page(ctx, query, plan, walked)

    def _served(
        self, plan: QueryPlan, page: Page, route: tuple[str, ...], fallback: str | None = None
    ) -> SearchResult:
        for d in plan.decisions:
            backend = d.backend if d.backend in route else plan.primary
            ROUTE_DECISIONS.labels(d.feature.value, backend).inc()
        return SearchResult(page, route, plan, fallback)

    async def _with_secondary(
        self, ctx: TenantContext, query: SearchQuery, plan: QueryPlan, text: RouteDecision
    ) -> Page:
        backend = self.config.backend(text.backend)
        cap = self.config.cost.max_shipped_ids
        count = min(query.count if query.count is not None else self.default_count, self.max_count)
        if query.summary == "count":
            count = 0
        filtered = plan.strategy is MergeStrategy.SECONDARY_FILTERED
        limit = hits_needed(query.offset, count) if filtered else cap
        if limit > cap:
            raise Fallback("over_id_cap", f"page end {limit} is beyond max_shipped_ids ({cap})")
        request = TextSearch(plan.analysis.resource_types, plan.analysis.text_clauses, limit)
        hits = await self._hits(ctx, backend, request)
        if filtered:
            return await self._filtered_page(ctx, hits, query.offset, count)
        if not hits.complete:
            raise Fallback("over_id_cap", f"{hits.total} matches exceed max_shipped_ids ({cap})")
        ids = enriched_ids(plan.analysis, hits)
        if not ids:
            return Page([], total=0)
        return await self.store.search(ctx, primary_enriched(plan.analysis, ids))

    async def _text_ids(
        self, ctx: TenantContext, plan: QueryPlan, text: RouteDecision
    ) -> list[str]:
        """Every hit's id (∩ the query's ``_id``) for a text part combined with walks."""
        cap = self.config.cost.max_shipped_ids
        request = TextSearch(plan.analysis.resource_types, plan.analysis.text_clauses, cap)
        hits = await self._hits(ctx, self.config.backend(text.backend), request)
        if not hits.complete:
            raise Fallback("over_id_cap", f"{hits.total} matches exceed max_shipped_ids ({cap})")
        return enriched_ids(plan.analysis, hits)

    async def _filtered_page(
        self, ctx: TenantContext, hits: TextHits, offset: int, count: int
    ) -> Page:
        page = secondary_filtered(hits, offset, count)
        resources = await self.store.read_many(ctx, list(page.keys)) if page.keys else []
        token = str(page.next_offset) if page.next_offset is not None else None
        return Page(resources, total=page.total, next_token=token)

    async def _hits(
        self, ctx: TenantContext, backend: BackendConfig, request: TextSearch
    ) -> TextHits:
        index = self.indexes.get(backend.id)
        if index is None:
            raise Fallback("no_client", f"the gateway has no client for {backend.id}")
        lag_ms = read_lag_bound(self.tables.sync[backend.id], backend)
        deadline = (self._timeouts[backend.id] + (lag_ms or 0)) / 1000
        try:
            async with asyncio.timeout(deadline):
                # Freshness first, then the search: hits fetched while the index was
                # still applying the tenant's last change could predate it.
                fresh = lag_ms is None or await is_fresh(ctx, self.store, index, lag_ms)
                hits = await index.search_text(ctx, request) if fresh else TextHits((), 0)
        except TimeoutError:
            raise Fallback("timeout", f"no answer within {deadline * 1000:.0f} ms") from None
        except IndexNotFresh as exc:  # emptied, re-created or lost events: being repaired
            raise Fallback("not_fresh", str(exc)) from None
        except Exception as exc:  # the secondary failed: the primary answers
            raise Fallback("error", str(exc) or type(exc).__name__) from None
        if not fresh:
            raise Fallback("lagging", f"{backend.id} has not applied the tenant's last change")
        return hits

    def _query_timeout_ms(self, backend: BackendConfig) -> int:
        configured = backend.options.get("query_timeout_ms")
        if isinstance(configured, int) and configured > 0:
            return configured
        return self.config.health_for(backend).timeout_ms

    # -- writes ------------------------------------------------------------------------

    async def after_write(
        self, ctx: TenantContext, responses: Sequence[EntryResponse]
    ) -> list[Issue]:
        """SyncMode: wait for the synchronous secondaries; warnings for those behind."""
        return await self.writes.wait(ctx, responses)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self.monitor.start()
        self.convergence.start()

    async def stop(self) -> None:
        await self.convergence.stop()
        await self.monitor.stop()  # the clients belong to whoever built them (bootstrap)


def _primary_only(ctx: TenantContext, query: SearchQuery, *, walked: bool = False) -> bool:
    """Must the primary answer this caller's search? When a compartment confines it
    (``patient/`` scopes: the secondary knows no compartments), when it may search but
    not read the type (the secondary's ids are fetched by a read), at system level, or
    when a chain or ``_has`` would be walked on the graph for a scoped caller (the
    primary checks the scope of every type a chain traverses; the graph does not)."""
    permissions = ctx.permissions
    if permissions.grants is None and permissions.compartment is None:
        return False
    if walked:
        return True
    rtype = query.resource_type
    if rtype is None:
        return True
    confined = permissions.confinement(Operation.SEARCH, rtype) is not None
    return confined or not permissions.allows(Operation.READ, rtype)
