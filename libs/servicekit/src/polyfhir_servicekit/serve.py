"""Running a service: one command line (``--host``, ``--port``), JSON logs, uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

import uvicorn

from polyfhir_servicekit.http_protocol import OutcomeHttpToolsProtocol
from polyfhir_servicekit.startup import CannotListen, check_port


class ServiceSettings(Protocol):
    host: str
    port: int
    log_level: str


def server_config(app: Any, host: str, port: int) -> uvicorn.Config:
    """How every service is served: our logging, no access log, and requests uvicorn's
    parser rejects answered with an OperationOutcome
    (:mod:`polyfhir_servicekit.http_protocol`). uvicorn's own proxy-header handling
    (which trusts 127.0.0.1 unless told otherwise) is off: a service trusts forwarded
    headers only as its settings say (the gateway's ``POLYFHIR_FORWARDED_ALLOW_IPS``)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        http=OutcomeHttpToolsProtocol,
        proxy_headers=False,
    )


async def serve_app(app: Any, host: str, port: int, extra_ports: Sequence[int] = ()) -> None:
    """Serve an ASGI app until it is stopped (SIGINT/SIGTERM); logs go through ours.

    ``extra_ports``: the same app also listens there (one server, one event loop); the
    app tells the ports apart by ``scope["server"]`` (the gateway's internal admin port).
    """
    server = uvicorn.Server(server_config(app, host, port))
    # bound here, not by uvicorn: a taken port is CannotListen (one line, exit code 5)
    # rather than uvicorn's own exit
    sockets: list[socket.socket] = []
    try:
        for p in (port, *extra_ports):
            sockets.append(_bound(host, p))
    except OSError as exc:
        for sock in sockets:
            sock.close()
        msg = f"cannot listen on {host}:{p}: {exc.strerror or exc}"
        raise CannotListen(msg) from exc
    try:
        await server.serve(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()


class Background(Protocol):
    """A service's work beside its HTTP API (an indexer's change-stream consumer)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


BackgroundT = TypeVar("BackgroundT", bound=Background)
SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


async def serve_with_background(
    build: Callable[[], Awaitable[BackgroundT]],
    app_of: Callable[[BackgroundT], Any],
    host: str,
    port: int,
) -> None:
    """Build, start the background work, serve its app until stopped, then close it."""
    running = await build()
    try:
        await running.start()
        await serve_app(app_of(running), host, port)
    finally:
        await running.close()


def _bound(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and
    # an accepted connection inherits it; without it Nagle and delayed ACKs add ~40 ms to
    # every small response (an internal call, a probe)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def run_service(
    prog: str,
    settings: ServiceSettings,
    serve: Callable[[str, int], Coroutine[Any, Any, None]],
    argv: list[str] | None = None,
) -> None:
    """``prog [--host H] [--port P]``: configure logging, then run ``serve(host, port)``."""
    from polyfhir_servicekit.logs import configure_logging

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    configure_logging(settings.log_level)
    asyncio.run(serve(args.host, check_port(args.port)))


def run_background_service(
    prog: str,
    settings: SettingsT,
    build: Callable[[SettingsT], Awaitable[BackgroundT]],
    app_of: Callable[[BackgroundT], Any],
    argv: list[str] | None = None,
) -> None:
    """``prog [--host H] [--port P]`` for a service with background work (an indexer):
    ``build(settings)``, start it, serve ``app_of(it)``, close it."""
    run_service(
        prog,
        settings,
        lambda host, port: serve_with_background(lambda: build(settings), app_of, host, port),
        argv,
    )
