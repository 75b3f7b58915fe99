"""Request metrics (latency per route/method/status, requests in flight) and the access log."""

from __future__ import annotations

import logging
import time
import uuid
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


REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID_MAX = 128


def request_id_of(scope: Scope) -> str | None:
    """The caller's ``X-Request-ID`` when it is a sane token (printable, short)."""
    for key, value in scope.get("headers", ()):
        if key == REQUEST_ID_HEADER:
            text = bytes(value).decode("latin-1").strip()
            if 0 < len(text) <= _REQUEST_ID_MAX and text.isprintable():
                return text
    return None


def _with_request_id(scope: Scope, request_id: str) -> Scope:
    """The scope whose headers carry exactly this request id (for the app, audit log, ...)."""
    headers = [(k, v) for k, v in scope.get("headers", ()) if k != REQUEST_ID_HEADER]
    return {**scope, "headers": [*headers, (REQUEST_ID_HEADER, request_id.encode())]}


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task overhead).

    Every request gets a request id: the caller's ``X-Request-ID`` when it sent a sane
    one, else a new one. The app and the audit log see it in the request headers, the
    response carries it back as ``X-Request-ID``, and the access log line names it.
    """

    def __init__(self, app: ASGIApp, service: str, log_requests: bool = True) -> None:
        self.app = app
        self.service = service
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]
        request_id = request_id_of(scope) or uuid.uuid4().hex
        scope = _with_request_id(scope, request_id)

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != REQUEST_ID_HEADER
                ]
                message = {
                    **message,
                    "headers": [*headers, (REQUEST_ID_HEADER, request_id.encode())],
                }
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
                        "request_id": request_id,
                    },
                )
