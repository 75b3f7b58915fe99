"""Who is calling: the verified token turned into a tenant and permissions.

With tokens on, the tenant is the token's claim (``POLYFHIR_AUTH_TENANT_CLAIM``)
and nothing else: an ``X-Tenant-ID`` header naming another tenant is refused
(403), including the claim's own children (``acme`` does not reach
``acme/research``: a token names exactly one tenant). With tokens off
(local development) the header decides and the caller may do everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from polyfhir_core.errors import Forbidden
from polyfhir_core.smart_scopes import is_admin, permissions_from_scopes, split_scopes
from polyfhir_core.tenancy import TenantId, TenantPermissions
from polyfhir_gateway.security.tokens import BearerChallenge, TokenVerifier, bearer_token
from polyfhir_gateway.settings import GatewaySettings


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: TenantId
    permissions: TenantPermissions
    admin: bool
    subject: str | None = None
    client_id: str | None = None
    scopes: tuple[str, ...] = field(default=())


def _header_tenant(request: Request, settings: GatewaySettings) -> str | None:
    return request.headers.get(settings.tenant_header)


def anonymous_caller(request: Request, settings: GatewaySettings) -> Caller:
    """``POLYFHIR_AUTH=off``: the header's tenant, full access, admin included."""
    raw = _header_tenant(request, settings) or settings.default_tenant
    return Caller(TenantId.parse(raw), TenantPermissions.full_access(), admin=True)


def caller_from_claims(
    claims: dict[str, Any], settings: GatewaySettings, header_tenant: str | None
) -> Caller:
    raw_tenant = claims.get(settings.auth_tenant_claim)
    if not isinstance(raw_tenant, str) or not raw_tenant.strip():
        raise BearerChallenge(
            f"the token carries no {settings.auth_tenant_claim!r} claim", error="invalid_token"
        )
    tenant = TenantId.parse(raw_tenant)
    if header_tenant is not None and TenantId.parse(header_tenant) != tenant:
        raise Forbidden(f"this token is for tenant {tenant}; it cannot select another tenant")
    raw_scope = claims.get("scope", claims.get("scp", ""))
    scopes = split_scopes(raw_scope if isinstance(raw_scope, (str, list)) else "")
    patient = claims.get("patient")
    patient_id = patient if isinstance(patient, str) and patient else None
    client = claims.get("client_id", claims.get("azp"))
    return Caller(
        tenant,
        permissions_from_scopes(scopes, patient_id, settings.auth_admin_scope),
        admin=is_admin(scopes, settings.auth_admin_scope),
        subject=str(claims["sub"]) if "sub" in claims else None,
        client_id=str(client) if client is not None else None,
        scopes=scopes,
    )


async def resolve_caller(request: Request) -> Caller:
    """The request's caller, verified once and kept on ``request.state``."""
    known: Caller | None = getattr(request.state, "caller", None)
    if known is not None:
        return known
    settings: GatewaySettings = request.app.state.settings
    verifier: TokenVerifier | None = request.app.state.token_verifier
    if verifier is None:
        caller = anonymous_caller(request, settings)
    else:
        claims = await verifier.verify(bearer_token(request.headers.get("authorization")))
        caller = caller_from_claims(claims, settings, _header_tenant(request, settings))
    request.state.caller = caller
    return caller


async def require_admin(request: Request) -> None:
    """FastAPI dependency of every ``/admin`` route: the admin scope, or 403."""
    caller = await resolve_caller(request)
    if not caller.admin:
        settings: GatewaySettings = request.app.state.settings
        raise Forbidden(f"administration requires the {settings.auth_admin_scope!r} scope")
