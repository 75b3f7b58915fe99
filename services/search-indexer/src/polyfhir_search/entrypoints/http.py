"""The search-indexer's internal HTTP API (what ``polyfhir_clients.search.HttpSearchIndex`` calls).

One generic route serves every call of the contract
(:data:`polyfhir_core.contracts.search_index.SEARCH_INDEX_CALLS`):
``POST /internal/v1/search-index/{call}`` with ``{"tenant": ..., "args": {...}}``;
errors travel as OperationOutcome with their HTTP status.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Request, Response
from pydantic import StringConstraints

from polyfhir_core import wire
from polyfhir_core.contracts.search_index import SEARCH_INDEX_CALLS, SearchIndex
from polyfhir_core.errors import FhirError
from polyfhir_servicekit.errors import UnhandledErrorMiddleware
from polyfhir_servicekit.metrics import MetricsMiddleware
from polyfhir_servicekit.probes import add_operational_routes

# every call is bound to one tenant: an empty one is a malformed call
_SCOPE = ("tenant", Annotated[str, StringConstraints(min_length=1)])


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def create_app(index: SearchIndex) -> FastAPI:
    app = FastAPI(title="polyfhir search-indexer", docs_url=None, redoc_url=None)

    @app.post("/internal/v1/search-index/{name}")
    async def call(name: str, request: Request) -> Response:
        try:
            raw = await request.body()
            return _json(await wire.answer_call(SEARCH_INDEX_CALLS, index, name, raw, _SCOPE))
        except FhirError as exc:
            return _json(exc.outcome(), exc.status)

    add_operational_routes(app, index.check_ready)
    app.add_middleware(UnhandledErrorMiddleware)  # inside metrics: a 500 is counted
    app.add_middleware(MetricsMiddleware, service="search-indexer", log_requests=False)
    return app
