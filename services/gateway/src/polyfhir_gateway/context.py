"""Per-request context: tenant, base URL, preferences, limits, the store."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_core.tenancy import TenantContext, TenantId
from polyfhir_gateway.api.fhir_json import check_accept
from polyfhir_gateway.api.prefer import Prefer
from polyfhir_gateway.pipeline import QueryPipeline
from polyfhir_gateway.settings import GatewaySettings


@dataclass(frozen=True, slots=True)
class FhirContext:
    store: PrimaryStore
    settings: GatewaySettings
    tenant: TenantContext
    base: str
    prefer: Prefer
    request: Request
    pipeline: QueryPipeline


def request_tenant(request: Request) -> TenantContext:
    """The caller's tenant (the ``X-Tenant-ID`` header while tokens are off)."""
    settings: GatewaySettings = request.app.state.settings
    raw_tenant = request.headers.get(settings.tenant_header) or settings.default_tenant
    return TenantContext(
        TenantId.parse(raw_tenant), request_id=request.headers.get("x-request-id", "")
    )


async def fhir_context(request: Request) -> FhirContext:
    """FastAPI dependency: resolve everything a FHIR interaction needs.

    ``async`` although nothing here waits: FastAPI runs a plain ``def`` dependency
    in its thread pool, one thread hop on every request."""
    settings: GatewaySettings = request.app.state.settings
    check_accept(request)
    tenant = request_tenant(request)
    base = settings.base_url or f"{str(request.base_url).rstrip('/')}/fhir"
    return FhirContext(
        request.app.state.store,
        settings,
        tenant,
        base.rstrip("/"),
        Prefer.of(request),
        request,
        request.app.state.pipeline,
    )
