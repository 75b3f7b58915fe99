"""Per-request context: tenant, base URL, preferences, limits, the store."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_core.errors import BadRequest
from polyfhir_core.input_limits import has_control_character
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.api.fhir_json import check_accept
from polyfhir_gateway.api.prefer import Prefer
from polyfhir_gateway.pipeline import QueryPipeline
from polyfhir_gateway.security.caller import resolve_caller
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


async def request_tenant(request: Request) -> TenantContext:
    """The caller's tenant and permissions: from the token when tokens are on, from
    the ``X-Tenant-ID`` header while they are off (docs/security.md)."""
    caller = await resolve_caller(request)
    return TenantContext(
        caller.tenant, caller.permissions, request_id=request.headers.get("x-request-id", "")
    )


async def fhir_context(request: Request) -> FhirContext:
    """FastAPI dependency: resolve everything a FHIR interaction needs.

    ``async`` although nothing here waits: FastAPI runs a plain ``def`` dependency
    in its thread pool, one thread hop on every request.

    The caller (token, or the header when tokens are off) decides the tenant and
    the permissions every store call carries (docs/security.md)."""
    settings: GatewaySettings = request.app.state.settings
    if has_control_character(request.url.path) or has_control_character(request.scope["path"]):
        # no id, type or job id has one; a NUL would reach the database (docs/errors.md)
        raise BadRequest("the request path contains a control character")
    check_accept(request)
    tenant = await request_tenant(request)
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
