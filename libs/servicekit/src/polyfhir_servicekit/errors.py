"""A bug still gets a complete answer: a 500 OperationOutcome on a connection that stays open.

Starlette's ``ServerErrorMiddleware`` renders a 500 for an exception that
escapes the app but then re-raises it (so that servers can log it), and
uvicorn closes the connection of every request whose app raised once the
response had started. The client got its 500, but its next request on that
keep-alive connection met a closed socket (a connection reset). This
middleware sits inside the metrics middleware, logs the exception once,
answers a 500 OperationOutcome and returns normally: the connection stays
usable. Only an exception after the response started (a truncated body, which
nothing can repair) still propagates, and then closing the connection is right.
"""

from __future__ import annotations

import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

INTERNAL_ERROR = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "exception",
            "diagnostics": "internal server error (this is a bug)",
        }
    ],
}


async def send_outcome(send: Send, status: int, outcome: object) -> None:
    """Send one complete response whose body is an OperationOutcome."""
    body = orjson.dumps(outcome)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/fhir+json; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class UnhandledErrorMiddleware:
    """Pure ASGI: an exception escaping the app becomes a 500 OperationOutcome, not a reset."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            await send_outcome(send, 500, INTERNAL_ERROR)
