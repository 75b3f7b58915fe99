"""Request metrics (latency per route/method/status, requests in flight) and the access log."""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_LATENCY = Histogram(
    "polyfhir_http_request_seconds",
    "HTTP request latency",
    ["service", "route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
access_log = logging.getLogger("polyfhir.access")
IN_FLIGHT = Gauge("polyfhir_http_requests_in_flight", "HTTP requests being served", ["service"])


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task overhead)."""

    def __init__(self, app: ASGIApp, service: str, log_requests: bool = True) -> None:
        self.app = app
        self.service = service
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        gauge = IN_FLIGHT.labels(service=self.service)
        gauge.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, record_status)
        finally:
            gauge.dec()
            route: Any = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            REQUEST_LATENCY.labels(self.service, path, scope["method"], str(status[0])).observe(
                elapsed
            )
            if self.log_requests:
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": path,
                        "status": status[0],
                        "ms": round(elapsed * 1000, 2),
                    },
                )
