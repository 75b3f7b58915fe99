"""A service's internal HTTP API: its contracts plus ``/livez``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from fastapi import FastAPI

from polyfhir_servicekit.contract_server import ServedContract, mount_contract
from polyfhir_servicekit.errors import UnhandledErrorMiddleware
from polyfhir_servicekit.metrics import MetricsMiddleware
from polyfhir_servicekit.probes import add_operational_routes


def create_internal_app(
    service: str,
    contracts: Iterable[ServedContract],
    check_ready: Callable[[], Awaitable[None]],
) -> FastAPI:
    """One app serving every contract of ``service`` (``serve(CONTRACT, impl)`` each);
    ``check_ready`` answers ``/readyz``."""
    app = FastAPI(title=f"polyfhir {service}", docs_url=None, redoc_url=None)
    for served in contracts:
        mount_contract(app, served)
    add_operational_routes(app, check_ready)
    app.add_middleware(UnhandledErrorMiddleware)  # inside metrics: a 500 is counted
    app.add_middleware(MetricsMiddleware, service=service, log_requests=False)
    return app
