"""Build the token verifier the settings ask for (``POLYFHIR_AUTH``)."""

from __future__ import annotations

import logging

from polyfhir_core.errors import FhirError
from polyfhir_gateway.security.dev_issuer import DEV_ISSUER, DevIssuer
from polyfhir_gateway.security.keys import KeySource, RemoteKeys, StaticKeys
from polyfhir_gateway.security.tokens import TokenVerifier
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_servicekit.startup import ConfigurationInvalid

log = logging.getLogger("polyfhir.security")


class SecurityConfigurationError(FhirError, ConfigurationInvalid):
    status = 500
    code = "exception"


def issuer_of(settings: GatewaySettings) -> str | None:
    return DEV_ISSUER if settings.auth == "dev" else settings.auth_issuer


def announce_auth(settings: GatewaySettings) -> None:
    """The entrypoints' first log line: whether and how the API is protected."""
    if settings.auth == "off":
        log.warning(
            "POLYFHIR_AUTH=off: the API is OPEN - no tokens are checked and any caller "
            "may claim any tenant with the %s header; for local development only",
            settings.tenant_header,
        )
    elif settings.auth == "dev":
        log.warning(
            "POLYFHIR_AUTH=dev: tokens required, trusting the development issuer in %s "
            "(mint with `polyfhir token`); not for production",
            settings.auth_dev_dir,
        )
    else:
        log.info("POLYFHIR_AUTH=jwks: tokens from %s are required", settings.auth_issuer)


def build_verifier(settings: GatewaySettings) -> TokenVerifier | None:
    """None when tokens are off."""
    if settings.auth == "off":
        return None
    keys: KeySource
    if settings.auth == "dev":
        issuer = DevIssuer(settings.auth_dev_dir, settings.auth_audience)
        keys, audience = StaticKeys(issuer.jwks()), issuer.audience
    else:
        if settings.auth_jwks_url:
            keys = RemoteKeys(settings.auth_jwks_url, settings.auth_jwks_cache_seconds)
        elif settings.auth_jwks_file:
            keys = StaticKeys.from_file(settings.auth_jwks_file)
        else:
            raise SecurityConfigurationError(
                "POLYFHIR_AUTH=jwks needs POLYFHIR_AUTH_JWKS_URL or POLYFHIR_AUTH_JWKS_FILE"
            )
        if not settings.auth_issuer or not settings.auth_audience:
            raise SecurityConfigurationError(
                "POLYFHIR_AUTH=jwks needs POLYFHIR_AUTH_ISSUER and POLYFHIR_AUTH_AUDIENCE"
            )
        audience = settings.auth_audience
    return TokenVerifier(
        keys,
        issuer_of(settings),
        audience,
        tuple(settings.auth_algorithms),
        settings.auth_leeway_seconds,
    )
