"""Wiring of the gateway: the primary store, the composite config and the query pipeline."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from polyfhir_core.config import BackendRole, CompositeConfig, default_config, load_config
from polyfhir_core.contracts.graph_index import GRAPH_INDEX, GraphIndex
from polyfhir_core.contracts.primary_store import PRIMARY_STORE, PrimaryStore
from polyfhir_core.contracts.search_index import SEARCH_INDEX, SearchIndex
from polyfhir_core.contracts.terminology import TERMINOLOGY_INDEX, TerminologyIndex
from polyfhir_core.errors import FhirError
from polyfhir_gateway.app import create_app
from polyfhir_gateway.pipeline import QueryPipeline
from polyfhir_gateway.security.bootstrap import announce_auth
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_servicekit.contract_client import ServiceClients
from polyfhir_servicekit.startup import ConfigurationInvalid

log = logging.getLogger(__name__)


class ConfigurationError(FhirError, ConfigurationInvalid):
    status = 500
    code = "exception"


def load_composite(settings: GatewaySettings) -> CompositeConfig:
    """``POLYFHIR_CONFIG_FILE`` (+ ``POLYFHIR_CONFIG__*`` overrides), else primary only."""
    if not settings.config_file:
        return default_config()
    config = load_config(settings.config_file)
    for warning in config.warnings():
        log.warning("config %s: %s", warning.code, warning.message)
    return config


def search_indexes(config: CompositeConfig, clients: ServiceClients) -> dict[str, SearchIndex]:
    """A client of the search-indexer service (``options.service_url``) per search backend
    and per standby one of them fails over to."""
    indexes: dict[str, SearchIndex] = {}
    for backend in (*config.secondaries, *config.standbys):
        if backend.role is not BackendRole.SEARCH:
            continue
        url = backend.options.get("service_url")
        if not isinstance(url, str) or not url:
            raise ConfigurationError(
                f"backend {backend.id}: options.service_url (the search-indexer service, "
                "e.g. http://127.0.0.1:8082) is required; the gateway never talks to the engine"
            )
        indexes[backend.id] = clients.connect(SEARCH_INDEX, url)
    return indexes


def graph_indexes(config: CompositeConfig, clients: ServiceClients) -> dict[str, GraphIndex]:
    """A client of the graph-indexer service (``options.service_url``) per graph backend.

    A graph backend without a service URL gets no client (``/admin/backends`` shows
    it ``not_queried``): the router may still choose it, and each such search falls
    back to the primary with the reason ``no_client``.
    """
    graphs: dict[str, GraphIndex] = {}
    for backend in (*config.secondaries, *config.standbys):
        if backend.role is not BackendRole.GRAPH:
            continue
        url = backend.options.get("service_url")
        if not isinstance(url, str) or not url:
            log.warning("backend %s: no options.service_url, the primary walks", backend.id)
            continue
        graphs[backend.id] = clients.connect(GRAPH_INDEX, url)
    return graphs


def terminology_indexes(
    config: CompositeConfig, clients: ServiceClients
) -> dict[str, TerminologyIndex]:
    """A client of the terminology-indexer service (``options.service_url``) per
    terminology backend. Without a URL the backend gets no client: the modifiers fall
    back to the primary's closure (``no_client``) and the operations answer 503."""
    found: dict[str, TerminologyIndex] = {}
    for backend in config.secondaries:
        if backend.role is not BackendRole.TERMINOLOGY:
            continue
        url = backend.options.get("service_url")
        if not isinstance(url, str) or not url:
            log.warning("backend %s: no options.service_url, the primary's closure", backend.id)
            continue
        found[backend.id] = clients.connect(TERMINOLOGY_INDEX, url)
    return found


def build_pipeline(
    store: PrimaryStore, settings: GatewaySettings, clients: ServiceClients
) -> QueryPipeline:
    """The query pipeline; its secondaries' clients come from ``clients`` (closed by the caller)."""
    config = load_composite(settings)
    indexes = search_indexes(config, clients) if config.secondaries else {}
    graphs = graph_indexes(config, clients) if config.secondaries else {}
    terminology = terminology_indexes(config, clients) if config.secondaries else {}
    return QueryPipeline(
        store,
        config,
        indexes,
        graphs=graphs,
        terminology=terminology,
        terminology_fallback=None,  # an in-process TerminologyIndex plugs in here
        default_count=settings.default_count,
        max_count=settings.max_count,
    )


def build_remote_app(settings: GatewaySettings) -> FastAPI:
    announce_auth(settings)
    if not settings.primary_store_url:
        raise ConfigurationError(
            "POLYFHIR_PRIMARY_STORE_URL is required for a standalone gateway "
            "(use `polyfhir run` for the one-process topology)"
        )
    clients = ServiceClients()
    store = clients.connect(
        PRIMARY_STORE, settings.primary_store_url, settings.primary_store_timeout_s
    )
    pipeline = build_pipeline(store, settings, clients)
    return create_app(store, settings, on_shutdown=clients.close, pipeline=pipeline)
