"""The gateway's FastAPI application: the public FHIR R4 REST API."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.gzip import GZipMiddleware

from polyfhir_core.config import default_config
from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_gateway.api import (
    routes_admin,
    routes_advisor,
    routes_bulk,
    routes_everything,
    routes_import,
    routes_instance,
    routes_repair,
    routes_system,
    routes_tenants,
    routes_terminology,
    routes_type,
)
from polyfhir_gateway.api.errors import install_error_handlers
from polyfhir_gateway.api.forwarded_headers import ForwardedHeadersMiddleware
from polyfhir_gateway.bulk.exports import BulkJobs
from polyfhir_gateway.bulk.job_kinds import bulk_jobs, bulk_kinds, bulk_storage
from polyfhir_gateway.fairshare.middleware import FairShareMiddleware
from polyfhir_gateway.pipeline import QueryPipeline
from polyfhir_gateway.repair.job_kinds import repair_kinds
from polyfhir_gateway.security import smart_configuration
from polyfhir_gateway.security.admin_port import AdminPortSplit
from polyfhir_gateway.security.audit import AuditMiddleware
from polyfhir_gateway.security.bootstrap import build_verifier
from polyfhir_gateway.security.caller import require_admin
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_gateway.tenants.deletion import tenant_kinds
from polyfhir_servicekit.errors import UnhandledErrorMiddleware
from polyfhir_servicekit.jobs import JobRunner
from polyfhir_servicekit.metrics import MetricsMiddleware
from polyfhir_servicekit.probes import add_operational_routes

Lifecycle = Callable[[], Awaitable[None]]
log = logging.getLogger(__name__)


async def _expire_bulk_files(bulk: BulkJobs, every_s: float) -> None:
    """Remove the files of bulk jobs finished longer ago than the expiry (periodic duty)."""
    while True:
        try:
            removed = await bulk.sweep_expired()
            if removed:
                log.info("bulk: removed the files of %d expired jobs", removed)
        except Exception as exc:  # a full disk or S3 outage must not stop the gateway
            log.warning("bulk: expiry sweep failed: %s", exc)
        await asyncio.sleep(every_s)


# What ``add_api_route`` takes besides the path and endpoint, each kept by the route
# under the same name: a route added again with these is the same route, on this app.
_ROUTE_FIELDS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in ("self", "path", "endpoint", "route_class_override")
)


def _add_routes(app: FastAPI, *routers: APIRouter) -> None:
    """The routers' routes added to the app itself, in order. ``include_router`` keeps
    each router as a branch that the app matches through on every request (FastAPI
    0.16x). With these eight ahead of the instance routes, that cost 0.1 to 0.2 ms per
    request, ~10 % of a CRUD request's CPU (benchmarks/README.md, session 13). The
    routers are module-level and shared by every app a process builds (tests build
    many), so each app gets routes of its own (its ``dependency_overrides`` apply)."""
    for router in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute), route  # these routers hold API routes only
            fields = {name: getattr(route, name) for name in _ROUTE_FIELDS}
            app.router.add_api_route(route.path, route.endpoint, **fields)


def create_app(
    store: PrimaryStore,
    settings: GatewaySettings,
    on_startup: Lifecycle | None = None,
    on_shutdown: Lifecycle | None = None,
    pipeline: QueryPipeline | None = None,
) -> FastAPI:
    """The app; without ``pipeline`` the primary answers every query (no secondaries)."""
    if pipeline is None:
        pipeline = QueryPipeline(
            store,
            default_config(),
            default_count=settings.default_count,
            max_count=settings.max_count,
        )

    # Repair and bulk jobs run here; their records live in the primary store (durable).
    storage = bulk_storage(settings)
    jobs = JobRunner(
        store,
        [
            *repair_kinds(store, pipeline.repairable),
            *bulk_kinds(store, storage, settings),
            *tenant_kinds(
                store,
                pipeline.tenant_holders(),
                storage,
                settings.tenant_delete_batch,
            ),
        ],
        heartbeat_s=settings.job_heartbeat_s,
        stale_after_s=settings.job_stale_after_s,
    )

    bulk = bulk_jobs(jobs, storage, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        await pipeline.start()
        await jobs.start()  # resumes (or marks failed) what a stopped gateway left running
        expiry = asyncio.create_task(_expire_bulk_files(bulk, settings.job_heartbeat_s))
        try:
            yield
        finally:
            expiry.cancel()
            await asyncio.gather(expiry, return_exceptions=True)
            await jobs.close()
            await pipeline.stop()
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
    app.state.pipeline = pipeline
    app.state.jobs = jobs
    app.state.token_verifier = build_verifier(settings)
    app.state.bulk = bulk
    install_error_handlers(app)
    # The FHIR API's routes, in this order: the specific paths before the type and
    # instance patterns they resemble (/fhir/.well-known/…, /fhir/$export, …/$everything,
    # …/$lookup before /fhir/{rtype}/{rid}).
    _add_routes(
        app,
        smart_configuration.router,
        routes_bulk.router,
        routes_import.router,
        routes_system.router,
        routes_everything.router,
        routes_terminology.router,
        routes_type.router,
        routes_instance.router,
    )
    admin = [Depends(require_admin)]
    app.include_router(routes_admin.router, dependencies=admin)
    app.include_router(routes_advisor.router, dependencies=admin)
    app.include_router(routes_repair.router, dependencies=admin)
    app.include_router(routes_tenants.router, dependencies=admin)
    add_operational_routes(app, store.check_ready)
    app.add_middleware(FairShareMiddleware, settings=settings, jobs=store)  # inside the audit
    app.add_middleware(AuditMiddleware)
    if settings.admin_port is not None:
        app.add_middleware(AdminPortSplit, admin_port=settings.admin_port)
    if settings.gzip_level > 0:
        app.add_middleware(
            GZipMiddleware, minimum_size=settings.gzip_min_bytes, compresslevel=settings.gzip_level
        )
    app.add_middleware(UnhandledErrorMiddleware)  # inside metrics: a 500 is counted
    app.add_middleware(MetricsMiddleware, service="gateway", log_requests=settings.access_log)
    if settings.forwarded_allow_ips.strip():
        app.add_middleware(ForwardedHeadersMiddleware, trusted=settings.forwarded_allow_ips)
    return app
