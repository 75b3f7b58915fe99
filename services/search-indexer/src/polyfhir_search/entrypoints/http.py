"""The search-indexer's internal HTTP API: the ``SearchIndex`` contract served from its
Protocol (see ``polyfhir_core.contracts.contract``)."""

from __future__ import annotations

from starlette.applications import Starlette

from polyfhir_core.contracts.search_index import SEARCH_INDEX, SearchIndex
from polyfhir_servicekit.contract_server import serve
from polyfhir_servicekit.internal_app import create_internal_app


def create_app(index: SearchIndex) -> Starlette:
    return create_internal_app("search-indexer", [serve(SEARCH_INDEX, index)], index.check_ready)
