"""The public description of the issuer: ``.well-known/smart-configuration`` and
``CapabilityStatement.rest.security`` (SMART App Launch 2.x)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from polyfhir_core.smart_scopes import LETTERS
from polyfhir_gateway.security.bootstrap import issuer_of
from polyfhir_gateway.settings import GatewaySettings

router = APIRouter(prefix="/fhir")

_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def _endpoints(settings: GatewaySettings) -> dict[str, str]:
    issuer = issuer_of(settings)
    out: dict[str, str] = {}
    if settings.auth_authorize_url:
        out["authorize"] = settings.auth_authorize_url
    if settings.auth_token_url:
        out["token"] = settings.auth_token_url
    elif issuer and issuer.startswith("http"):
        out["token"] = issuer.rstrip("/") + "/token"
    return out


def smart_configuration(settings: GatewaySettings) -> dict[str, Any]:
    endpoints = _endpoints(settings)
    doc: dict[str, Any] = {
        "issuer": issuer_of(settings),
        "jwks_uri": settings.auth_jwks_url,
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
        "scopes_supported": [
            f"{ctx}/*.{letters}"
            for ctx in ("patient", "user", "system")
            for letters in ("cruds", "rs", "read", "write")
        ]
        + ["launch/patient", settings.auth_admin_scope],
        "response_types_supported": ["code"],
        "capabilities": [
            "permission-v2",
            "permission-v1",
            "permission-patient",
            "permission-user",
            "client-confidential-asymmetric",
            "context-standalone-patient",
        ],
        "code_challenge_methods_supported": ["S256"],
        "x-polyfhir-auth-mode": settings.auth,
        "x-polyfhir-scope-letters": sorted(LETTERS),
    }
    if "authorize" in endpoints:
        doc["authorization_endpoint"] = endpoints["authorize"]
    if "token" in endpoints:
        doc["token_endpoint"] = endpoints["token"]
    return {k: v for k, v in doc.items() if v not in (None, "")}


def security_block(settings: GatewaySettings) -> dict[str, Any] | None:
    """``CapabilityStatement.rest[0].security``, or None when tokens are off."""
    if settings.auth == "off":
        return None
    extension = [{"url": name, "valueUri": url} for name, url in _endpoints(settings).items()]
    block: dict[str, Any] = {
        "cors": False,
        "service": [
            {
                "coding": [{"system": _SERVICE, "code": "SMART-on-FHIR"}],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
        "description": f"Bearer tokens from {issuer_of(settings)}; SMART App Launch v2 scopes",
    }
    if extension:
        block["extension"] = [{"url": _OAUTH_URIS, "extension": extension}]
    return block


def with_security(statement: dict[str, Any], settings: GatewaySettings) -> dict[str, Any]:
    block = security_block(settings)
    if block is None:
        return statement
    rest = [{**statement["rest"][0], "security": block}, *statement["rest"][1:]]
    return {**statement, "rest": rest}


@router.get("/.well-known/smart-configuration")
async def well_known(request: Request) -> Response:
    settings: GatewaySettings = request.app.state.settings
    return Response(orjson.dumps(smart_configuration(settings)), media_type="application/json")
