"""``$everything``: patients' compartments, walked on the graph when one serves.

``Patient/[id]/$everything`` asks for one patient, ``Patient/$everything`` for
a page of patients (the route pages the patients on the primary).

The graph answers the compartment's keys in (type, id) order
(``GraphIndex.compartment``: the patient, and every live resource linked to it
by a parameter of the R4 Patient CompartmentDefinition), the primary reads
the resources (``read_many``). Without a usable graph — none configured, no
client, unhealthy, lagging, slow or failing — the primary answers: one
compartment search per member type (ids only), merged into the same
(type, id) order, so both paths page identically (``after`` = the last key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from polyfhir_core.config import BackendRole, CompositeConfig
from polyfhir_core.contracts.graph_index import CompartmentPage, CompartmentRequest, GraphIndex
from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_core.planning import ConfigTables
from polyfhir_core.registry.compartments import compartment_members, compartment_params
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.search import SearchParam, SearchQuery
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline.consistency import is_fresh, read_lag_bound
from polyfhir_gateway.pipeline.fallback import Fallback
from polyfhir_gateway.pipeline.health import HealthMonitor
from polyfhir_gateway.pipeline.metrics import FALLBACKS

PAGE_OF_IDS = 1000


@dataclass(frozen=True, slots=True)
class EverythingRequest:
    patient_ids: tuple[str, ...]
    types: tuple[str, ...] | None
    since: datetime | None
    after: ResourceKey | None
    count: int


@dataclass(frozen=True, slots=True)
class EverythingPage:
    resources: list[StoredResource]
    next_after: ResourceKey | None
    route: tuple[str, ...]
    fallback: str | None = None


def _order(key: ResourceKey) -> tuple[str, str]:
    return key.resource_type, key.id


class PatientEverything:
    def __init__(
        self,
        store: PrimaryStore,
        config: CompositeConfig,
        graphs: Mapping[str, GraphIndex],
        monitor: HealthMonitor,
        tables: ConfigTables,
        timeouts_ms: Mapping[str, int],
    ) -> None:
        self.store, self.config, self.graphs = store, config, dict(graphs)
        self.monitor, self.tables, self.timeouts_ms = monitor, tables, dict(timeouts_ms)

    async def page(self, ctx: TenantContext, request: EverythingRequest) -> EverythingPage:
        """A page of the compartments' resources in key order (the patients must exist)."""
        primary = self.config.primary.id
        configured = next((b for b in self.tables.secondaries if b.role is BackendRole.GRAPH), None)
        # the graph, or its promoted standby while it is unavailable (failover)
        serving = self.monitor.serving(configured) if configured is not None else None
        backend = serving if serving is not None and serving.id in self.graphs else None
        fallback = None
        keys: CompartmentPage | None = None
        if configured is not None and serving is None:
            fallback = f"{configured.id}={self.monitor.state(configured.id).value}"
        elif backend is not None:
            try:
                keys = await self._graph(ctx, backend.id, request)
            except Fallback as fb:
                FALLBACKS.labels(backend.id, fb.reason).inc()
                fallback = f"{backend.id}={fb.reason}"
        route = (backend.id, primary) if keys is not None and backend is not None else (primary,)
        if keys is None:
            keys = await self._primary(ctx, request)
        resources = await self.store.read_many(ctx, list(keys.keys)) if keys.keys else []
        next_after = None if keys.complete or not keys.keys else keys.keys[-1]
        return EverythingPage(resources, next_after, route, fallback)

    async def _graph(
        self, ctx: TenantContext, backend_id: str, request: EverythingRequest
    ) -> CompartmentPage:
        backend = self.config.backend(backend_id)
        graph = self.graphs[backend_id]
        lag_ms = read_lag_bound(self.tables.sync[backend_id], backend)
        deadline = (self.timeouts_ms[backend_id] + (lag_ms or 0)) / 1000
        asked = CompartmentRequest(
            request.patient_ids, request.types, request.since, request.after, request.count
        )
        page: CompartmentPage | None = None
        try:
            async with asyncio.timeout(deadline):
                if lag_ms is None or await is_fresh(ctx, self.store, graph, lag_ms):
                    page = await graph.compartment(ctx, asked)
        except TimeoutError:
            raise Fallback("timeout", f"no answer within {deadline * 1000:.0f} ms") from None
        except Exception as exc:  # the graph failed: the primary answers
            raise Fallback("error", str(exc) or type(exc).__name__) from None
        if page is None:
            raise Fallback("lagging", f"{backend_id} has not applied the tenant's last change")
        return page

    async def _primary(self, ctx: TenantContext, request: EverythingRequest) -> CompartmentPage:
        members = request.types or ("Patient", *compartment_members("Patient"))
        since = (
            (SearchParam("_lastUpdated", (f"ge{request.since.isoformat()}",)),)
            if request.since is not None
            else ()
        )
        found: set[ResourceKey] = set()
        for rtype in dict.fromkeys(members):
            if compartment_params("Patient", rtype) is None:
                continue  # not in the compartment: nothing of it belongs
            for patient_id in request.patient_ids:
                found.update(await self._member_keys(ctx, rtype, patient_id, since))
        after = _order(request.after) if request.after is not None else ("", "")
        keys = sorted((k for k in found if _order(k) > after), key=_order)
        return CompartmentPage(tuple(keys[: request.count]), len(keys) <= request.count)

    async def _member_keys(
        self, ctx: TenantContext, rtype: str, patient_id: str, params: tuple[SearchParam, ...]
    ) -> list[ResourceKey]:
        query = SearchQuery(
            rtype,
            params,
            count=PAGE_OF_IDS,
            elements=("id",),
            compartment=("Patient", patient_id),
        )
        keys: list[ResourceKey] = []
        while True:
            page = await self.store.search(ctx, query)
            keys += [r.key for r in page.resources]
            if page.next_token is None:
                return keys
            query = SearchQuery(
                rtype,
                params,
                count=PAGE_OF_IDS,
                page_token=page.next_token,
                elements=("id",),
                compartment=("Patient", patient_id),
            )
