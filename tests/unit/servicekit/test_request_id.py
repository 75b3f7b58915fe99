"""Every request has an id: the caller's X-Request-ID or a new one, echoed in the response,
seen by the app and named in the access log."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from polyfhir_servicekit.metrics import MetricsMiddleware


async def _echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.headers.get("x-request-id", ""))


def _client() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/echo", _echo)])
    app.add_middleware(MetricsMiddleware, service="test", log_requests=True)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_the_callers_request_id_is_kept_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="polyfhir.access"):
        async with _client() as client:
            answer = await client.get("/echo", headers={"X-Request-ID": "abc-123"})
    assert answer.text == "abc-123"  # the app sees it
    assert answer.headers["X-Request-ID"] == "abc-123"
    (line,) = [r for r in caplog.records if r.name == "polyfhir.access"]
    assert line.__dict__["request_id"] == "abc-123"


async def test_a_request_without_one_gets_a_new_id(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="polyfhir.access"):
        async with _client() as client:
            first = await client.get("/echo")
            second = await client.get("/echo", headers={"X-Request-ID": "x" * 500})  # not sane
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)
    assert [first.text, second.text] == ids
    assert [r.__dict__["request_id"] for r in caplog.records if r.name == "polyfhir.access"] == ids
