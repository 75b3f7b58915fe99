"""The graph-indexer's internal HTTP API: the ``GraphIndex`` contract served from its
Protocol (see ``polyfhir_core.contracts.contract``)."""

from __future__ import annotations

from starlette.applications import Starlette

from polyfhir_core.contracts.graph_index import GRAPH_INDEX, GraphIndex
from polyfhir_servicekit.contract_server import serve
from polyfhir_servicekit.internal_app import create_internal_app


def create_app(index: GraphIndex) -> Starlette:
    return create_internal_app("graph-indexer", [serve(GRAPH_INDEX, index)], index.check_ready)
