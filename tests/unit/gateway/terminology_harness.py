"""The gateway app over the primary's service layer on the in-memory store, with the
in-memory terminology index as its terminology backend (unit tests only: no socket,
the app is called through ``httpx.ASGITransport``)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request

from fakes.primary_store import FakeDatabase
from fakes.terminology_index import Concept, FakeTerminologyIndex, Include, MapElement
from polyfhir_core.config import parse_config
from polyfhir_core.contracts.primary_store import Page, TenantPositions
from polyfhir_core.contracts.terminology import TERMINOLOGY_INDEX, Coding, TerminologyIndex
from polyfhir_core.indexing import extract_index_values
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.search import SearchQuery
from polyfhir_core.tenancy import TenantContext, TenantPermissions
from polyfhir_gateway.app import create_app
from polyfhir_gateway.context import FhirContext, fhir_context
from polyfhir_gateway.pipeline import QueryPipeline
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_primary.service_layer.store_service import StoreService
from polyfhir_servicekit.contract_client import contract_client
from polyfhir_servicekit.contract_server import serve
from polyfhir_servicekit.internal_app import create_internal_app

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
SYSTEM = "http://example.org/fhir/CodeSystem/conditions"
VS = "http://example.org/fhir/ValueSet/infections"
MAP = "http://example.org/fhir/ConceptMap/to-local"
LOCAL = "http://example.org/local"
PRIMARY = {"id": "primary", "role": "primary", "kind": "sqlite", "url": "sqlite:///x.db"}
TERMINOLOGY = {
    "id": "terminology",
    "role": "terminology",
    "kind": "postgresql",
    "url": "postgresql://127.0.0.1:9/x",
    "options": {"service_url": "http://127.0.0.1:9"},
}
TERMINOLOGY_MODIFIERS = ("below", "above", "in", "not-in")


class RecordingStore:
    """The primary store: records every search, reports the positions a test chooses,
    and answers a search that still carries a terminology modifier with an empty page
    (the in-memory store has no closure tables; the query asked is what a test checks)."""

    def __init__(self, store: StoreService, positions: TenantPositions) -> None:
        self._store, self.positions_given = store, positions
        self.searches: list[SearchQuery] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def positions(self, ctx: TenantContext) -> TenantPositions:
        return self.positions_given

    async def search(self, ctx: TenantContext, query: SearchQuery) -> Page:
        self.searches.append(query)
        if any(p.modifier in TERMINOLOGY_MODIFIERS for p in query.params):
            return Page([], total=0)
        return await self._store.search(ctx, query)


def sample_index(tenant: str) -> FakeTerminologyIndex:
    """A small hierarchy (A > A1 > A11, A > A2, B), a value set and a concept map."""
    index = FakeTerminologyIndex()
    index.code_system(
        tenant,
        SYSTEM,
        [
            Concept("A", "Infection"),
            Concept("A1", "Viral infection", ("A",)),
            Concept("A11", "Influenza", ("A1",)),
            Concept("A2", "Bacterial infection", ("A",)),
            Concept("B", "Fracture", inactive=True),
        ],
        version="2026",
    )
    index.value_set(tenant, VS, [Include(SYSTEM, ("A1",), is_a=True)], resource_id="infections")
    index.concept_map(
        tenant,
        MAP,
        [MapElement(Coding(SYSTEM, "A11"), Coding(LOCAL, "flu"), "equivalent")],
        resource_id="to-local",
    )
    return index


def served(index: FakeTerminologyIndex) -> TerminologyIndex:
    """A client of ``index`` served over the internal HTTP API, in memory (no socket)."""
    app = create_internal_app("terminology", [serve(TERMINOLOGY_INDEX, index)], index.check_ready)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    return contract_client(TERMINOLOGY_INDEX, "http://terminology", http)


@dataclass
class TerminologyGateway:
    store: RecordingStore
    index: FakeTerminologyIndex | None
    pipeline: QueryPipeline
    transport: httpx.ASGITransport
    tenant: str
    app: Any = None
    permissions: TenantPermissions | None = field(default=None)

    def client(self, **headers: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url="http://testserver",
            transport=self.transport,
            headers={"accept": "application/fhir+json", "X-Tenant-ID": self.tenant, **headers},
        )

    def restrict(self, permissions: TenantPermissions) -> None:
        """Every request runs with ``permissions`` (the caller's scopes)."""

        async def scoped(request: Request) -> FhirContext:
            fc = await fhir_context(request)
            tenant = TenantContext(fc.tenant.tenant, permissions)
            return FhirContext(
                fc.store, fc.settings, tenant, fc.base, fc.prefer, fc.request, fc.pipeline
            )

        self.app.dependency_overrides[fhir_context] = scoped

    async def observation(self, code: str, system: str = SYSTEM) -> str:
        body = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": system, "code": code}]},
        }
        async with self.client() as c:
            created = await c.post("/fhir/Observation", json=body)
        assert created.status_code == 201, created.text
        rid: str = created.json()["id"]
        return rid


def build_gateway(
    tmp_path: Path,
    *,
    with_index: bool = True,
    backends: Sequence[dict[str, Any]] | None = None,
    positions: TenantPositions | None = None,
    fallback: bool = False,
    over_the_wire: bool = False,
    **top: Any,
) -> TerminologyGateway:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    ids = itertools.count(1)
    service = StoreService(
        db=FakeDatabase(),
        indexer=extract_index_values,
        registry=SearchParameterRegistry.default(),
        clock=lambda: NOW,
        new_id=lambda: f"id{next(ids)}",
    )
    store = RecordingStore(service, positions or TenantPositions({}, pending=0))
    index = sample_index(tenant) if with_index else None
    chosen = [PRIMARY, TERMINOLOGY] if backends is None else list(backends)
    config = parse_config({"backends": chosen, **top})
    terminology: dict[str, TerminologyIndex] = {}
    if index is not None:
        terminology["terminology"] = served(index) if over_the_wire else index
    primary: Any = store  # a PrimaryStore by delegation (__getattr__)
    in_process = sample_index(tenant) if fallback else None
    pipeline = QueryPipeline(
        primary, config, {}, terminology=terminology, terminology_fallback=in_process
    )
    settings = GatewaySettings(auth="off", bulk_output_dir=str(tmp_path / "bulk"))
    app = create_app(primary, settings, pipeline=pipeline)
    gateway = TerminologyGateway(store, index, pipeline, httpx.ASGITransport(app=app), tenant)
    gateway.app = app
    return gateway
