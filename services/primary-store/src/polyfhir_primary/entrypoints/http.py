"""The primary-store service's internal HTTP API (microservice topology).

One generic route serves every call of the store contract
(:data:`polyfhir_core.contracts.primary_store.STORE_CALLS`); errors travel as OperationOutcome
with their HTTP status, so the gateway re-raises exactly what the store raised.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

from polyfhir_core import wire
from polyfhir_core.contracts.primary_store import STORE_CALLS, PrimaryStore
from polyfhir_core.errors import FhirError
from polyfhir_core.tenancy import TenantContext
from polyfhir_servicekit.errors import UnhandledErrorMiddleware
from polyfhir_servicekit.metrics import MetricsMiddleware
from polyfhir_servicekit.probes import add_operational_routes

_SCOPE = ("ctx", TenantContext)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def create_app(store: PrimaryStore) -> FastAPI:
    app = FastAPI(title="polyfhir primary-store", docs_url=None, redoc_url=None)

    @app.post("/internal/v1/store/{name}")
    async def call(name: str, request: Request) -> Response:
        try:
            raw = await request.body()
            return _json(await wire.answer_call(STORE_CALLS, store, name, raw, _SCOPE))
        except FhirError as exc:
            return _json(exc.outcome(), exc.status)

    add_operational_routes(app, store.check_ready)
    app.add_middleware(UnhandledErrorMiddleware)  # inside metrics: a 500 is counted
    app.add_middleware(MetricsMiddleware, service="primary-store", log_requests=False)
    return app
