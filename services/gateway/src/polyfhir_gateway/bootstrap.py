"""Wiring of the gateway in the microservice topology (primary store over HTTP)."""

from __future__ import annotations

from fastapi import FastAPI

from polyfhir_clients.primary import HttpPrimaryStore
from polyfhir_core.errors import FhirError
from polyfhir_gateway.app import create_app
from polyfhir_gateway.settings import GatewaySettings


class ConfigurationError(FhirError):
    status = 500
    code = "exception"


def build_remote_app(settings: GatewaySettings) -> FastAPI:
    if not settings.primary_store_url:
        raise ConfigurationError(
            "POLYFHIR_PRIMARY_STORE_URL is required for a standalone gateway "
            "(use `polyfhir run` for the one-process topology)"
        )
    store = HttpPrimaryStore(settings.primary_store_url)
    return create_app(store, settings, on_shutdown=store.close)
