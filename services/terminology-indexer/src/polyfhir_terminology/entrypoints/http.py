"""The terminology-indexer's internal HTTP API: the ``TerminologyIndex`` contract served
from its Protocol (see ``polyfhir_core.contracts.contract``)."""

from __future__ import annotations

from starlette.applications import Starlette

from polyfhir_core.contracts.terminology import TERMINOLOGY_INDEX, TerminologyIndex
from polyfhir_servicekit.contract_server import serve
from polyfhir_servicekit.internal_app import create_internal_app


def create_app(index: TerminologyIndex) -> Starlette:
    return create_internal_app(
        "terminology-indexer", [serve(TERMINOLOGY_INDEX, index)], index.check_ready
    )
