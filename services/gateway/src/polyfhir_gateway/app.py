"""The gateway's FastAPI application: the public FHIR R4 REST API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from polyfhir_core.store import PrimaryStore
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from polyfhir_gateway.api import routes_instance, routes_system, routes_type
from polyfhir_gateway.api.errors import install_error_handlers
from polyfhir_gateway.api.fhir_json import plain_json
from polyfhir_gateway.metrics import MetricsMiddleware
from polyfhir_gateway.settings import GatewaySettings

Lifecycle = Callable[[], Awaitable[None]]


def create_app(
    store: PrimaryStore,
    settings: GatewaySettings,
    on_startup: Lifecycle | None = None,
    on_shutdown: Lifecycle | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown()

    app = FastAPI(
        title="polyfhir",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.store = store
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(routes_system.router)
    app.include_router(routes_type.router)
    app.include_router(routes_instance.router)
    _operational_routes(app, store)
    app.add_middleware(MetricsMiddleware, service="gateway")
    return app


def _operational_routes(app: FastAPI, store: PrimaryStore) -> None:
    @app.get("/livez")
    async def livez() -> Response:
        return plain_json({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        try:
            await store.check_ready()
        except Exception as exc:  # any failure means not ready
            return plain_json({"status": "unavailable", "reason": str(exc)}, 503)
        return plain_json({"status": "ok"})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
