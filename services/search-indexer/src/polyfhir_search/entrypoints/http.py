"""The search-indexer's internal HTTP API (what ``polyfhir_clients.search.HttpSearchIndex`` calls).

One generic route serves every call of the contract
(:data:`polyfhir_core.search_index.SEARCH_INDEX_CALLS`):
``POST /internal/v1/search-index/{call}`` with ``{"tenant": ..., "args": {...}}``;
errors travel as OperationOutcome with their HTTP status.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from pydantic import ValidationError

from polyfhir_core import wire
from polyfhir_core.errors import BadRequest, FhirError, NotFound
from polyfhir_core.search_index import SEARCH_INDEX_CALLS, SearchIndex
from polyfhir_servicekit.metrics import MetricsMiddleware
from polyfhir_servicekit.probes import add_operational_routes


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _dispatch(index: SearchIndex, name: str, raw: bytes) -> Any:
    if name not in SEARCH_INDEX_CALLS:
        raise NotFound(f"no search-index call {name!r}")
    arg_types, result_type = SEARCH_INDEX_CALLS[name]
    try:
        body = orjson.loads(raw)
        tenant = wire.load(str, body["tenant"])
        args = {k: wire.load(t, body["args"][k]) for k, t in arg_types.items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
        raise BadRequest(f"malformed internal call {name}: {exc}") from exc
    if not tenant:
        raise BadRequest(f"internal call {name}: tenant must not be empty")
    result = await getattr(index, name)(tenant, **args)
    return wire.dump(result_type, result)


def create_app(index: SearchIndex) -> FastAPI:
    app = FastAPI(title="polyfhir search-indexer", docs_url=None, redoc_url=None)

    @app.post("/internal/v1/search-index/{name}")
    async def call(name: str, request: Request) -> Response:
        try:
            return _json(await _dispatch(index, name, await request.body()))
        except FhirError as exc:
            return _json(exc.outcome(), exc.status)

    add_operational_routes(app, index.check_ready)
    app.add_middleware(MetricsMiddleware, service="search-indexer", log_requests=False)
    return app
