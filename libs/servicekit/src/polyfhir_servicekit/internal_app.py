"""A service's internal HTTP API: its contracts plus ``/livez``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from starlette.applications import Starlette
from starlette.middleware import Middleware

from polyfhir_servicekit.contract_server import ServedContract, contract_route
from polyfhir_servicekit.errors import UnhandledErrorMiddleware
from polyfhir_servicekit.metrics import MetricsMiddleware
from polyfhir_servicekit.probes import add_operational_routes


def create_internal_app(
    service: str,
    contracts: Iterable[ServedContract],
    check_ready: Callable[[], Awaitable[None]],
) -> Starlette:
    """One app serving every contract of ``service`` (``serve(CONTRACT, impl)`` each);
    ``check_ready`` answers ``/readyz``. Starlette, not FastAPI: nobody reads an
    OpenAPI document of the internal API, and its contract is typed by the Protocols."""
    app = Starlette(
        routes=[contract_route(served) for served in contracts],
        middleware=[
            Middleware(MetricsMiddleware, service=service, log_requests=False),
            Middleware(UnhandledErrorMiddleware),  # inside metrics: a 500 is counted
        ],
    )
    add_operational_routes(app, check_ready)
    return app
