"""``/livez``, ``/readyz`` and ``/metrics``, the same on every service."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def add_operational_routes(app: Starlette, check_ready: Callable[[], Awaitable[None]]) -> None:
    async def livez(_: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            await check_ready()
        except Exception as exc:  # any failure means not ready
            log.warning("not ready", extra={"reason": str(exc)})
            return _json({"status": "unavailable", "reason": str(exc)}, 503)
        return _json({"status": "ok"})

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/livez", livez, methods=["GET"])
    app.add_route("/readyz", readyz, methods=["GET"])
    app.add_route("/metrics", metrics, methods=["GET"])
