"""The primary-store service's internal HTTP API (microservice topology): the
``PrimaryStore`` contract served from its Protocol (see ``polyfhir_core.contracts.contract``)."""

from __future__ import annotations

from starlette.applications import Starlette

from polyfhir_core.contracts.primary_store import PRIMARY_STORE, PrimaryStore
from polyfhir_servicekit.contract_server import serve
from polyfhir_servicekit.internal_app import create_internal_app


def create_app(store: PrimaryStore) -> Starlette:
    return create_internal_app("primary-store", [serve(PRIMARY_STORE, store)], store.check_ready)
