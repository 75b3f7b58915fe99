"""An exception escaping an app is a complete 500 OperationOutcome and does not escape further."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from polyfhir_servicekit.errors import UnhandledErrorMiddleware
from polyfhir_servicekit.metrics import MetricsMiddleware

pytestmark = pytest.mark.unit


async def _broken(_: Request) -> Response:
    raise RuntimeError("a bug")


async def _fine(_: Request) -> Response:
    return PlainTextResponse("ok")


async def _breaks_midway(_: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("a bug after the response started")

    return StreamingResponse(body())


def _app() -> Starlette:
    app = Starlette(
        routes=[
            Route("/broken", _broken),
            Route("/fine", _fine),
            Route("/midway", _breaks_midway),
        ]
    )
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(MetricsMiddleware, service="unit-test", log_requests=False)
    return app


async def test_an_unhandled_exception_is_a_500_outcome_and_is_not_reraised() -> None:
    # raise_app_exceptions=True (the default): an exception escaping the app fails the test,
    # as it would make uvicorn close the connection.
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        broken = await client.get("/broken")
        assert broken.status_code == 500
        assert broken.headers["content-type"].startswith("application/fhir+json")
        outcome = broken.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "exception"
        assert (await client.get("/fine")).text == "ok"


async def test_an_exception_after_the_response_started_still_propagates() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(RuntimeError, match="after the response started"):
            await client.get("/midway")
