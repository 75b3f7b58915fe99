"""How every service is served (uvicorn + servicekit), over a real socket with keep-alive.

A 500 is a complete OperationOutcome and the connection answers the next
request; requests uvicorn's parser rejects get an OperationOutcome too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from polyfhir_engines.processes import free_port
from polyfhir_servicekit.errors import UnhandledErrorMiddleware
from polyfhir_servicekit.metrics import MetricsMiddleware
from polyfhir_servicekit.serve import server_config
from support import eventually

pytestmark = pytest.mark.integration


async def _broken(_: Request) -> Response:
    raise RuntimeError("a bug")


async def _fine(_: Request) -> Response:
    return PlainTextResponse("ok")


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = Starlette(routes=[Route("/broken", _broken), Route("/fine", _fine)])
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(MetricsMiddleware, service="serving-test", log_requests=False)
    chosen = free_port()
    server = uvicorn.Server(server_config(app, "127.0.0.1", chosen))
    task = asyncio.create_task(server.serve())

    async def started() -> bool | None:
        return True if server.started else None

    await eventually(started, within=10, what="uvicorn to start")
    try:
        yield chosen
    finally:
        server.should_exit = True
        await task


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[str, str], bytes]:
    writer.write(request)
    await writer.drain()
    status_line = await reader.readuntil(b"\r\n")
    headers: dict[str, str] = {}
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def test_a_500_is_an_outcome_and_the_connection_stays_usable(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(2):  # two bugs in a row on one connection, then a normal request
            status, headers, body = await _exchange(
                reader, writer, b"GET /broken HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            assert status == 500
            assert headers["content-type"].startswith("application/fhir+json")
            assert headers.get("connection") != "close"
            assert orjson.loads(body)["issue"][0]["code"] == "exception"
        status, _, body = await _exchange(reader, writer, b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (status, body) == (200, b"ok")
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"FOO /fine HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b'GET /fine HTTP/1.1\r\nHost: x\r\nIf-Match: W/"1\x01"\r\n\r\n', 400),
        (b"GET /fine HTTP/1.1\r\nHost: x\r\nIf-None-Match: \x00\r\n\r\n", 400),
        (b"GET /fi ne HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ],
)
async def test_requests_the_parser_rejects_get_an_outcome(
    port: int, request_bytes: bytes, status: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        got, headers, body = await _exchange(reader, writer, request_bytes)
    finally:
        writer.close()
    assert got == status
    assert headers["content-type"].startswith("application/fhir+json")
    assert orjson.loads(body)["resourceType"] == "OperationOutcome"
