"""The socket every service listens on (``serve._bound``) makes asyncio switch Nagle's
algorithm off on each accepted connection (TCP_NODELAY): without it, every small answer of
an internal call or probe waited ~40 ms for a delayed ACK (a regression of session 9: the
gateway's read took 52 ms instead of 4 through the two-process topology)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from polyfhir_servicekit.serve import _bound

pytestmark = pytest.mark.integration


async def test_accepted_connections_have_nagle_off() -> None:
    listening = _bound("127.0.0.1", 0)
    accepted: asyncio.Queue[int] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        await accepted.put(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=listening)
    try:
        port = listening.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        nodelay = await asyncio.wait_for(accepted.get(), timeout=10)
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    assert nodelay != 0
