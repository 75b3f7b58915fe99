"""Running a service: one command line (``--host``, ``--port``), JSON logs, uvicorn."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

import uvicorn

from polyfhir_servicekit.http_protocol import OutcomeHttpToolsProtocol
from polyfhir_servicekit.startup import CannotListen, check_port
from polyfhir_servicekit.workers import serve_processes, shared_socket


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
    sockets = bound_sockets(host, (port, *extra_ports), _bound)
    try:
        await server.serve(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()


def bound_sockets(
    host: str, ports: Sequence[int], bind: Callable[[str, int], socket.socket]
) -> list[socket.socket]:
    """A listening socket per port, or :class:`CannotListen` (none left open)."""
    sockets: list[socket.socket] = []
    try:
        for p in ports:
            sockets.append(bind(host, p))
    except OSError as exc:
        for sock in sockets:
            sock.close()
        msg = f"cannot listen on {host}:{p}: {exc.strerror or exc}"
        raise CannotListen(msg) from exc
    return sockets


def serve_in_processes(
    main: Callable[[], Coroutine[Any, Any, None]],
    *,
    workers: int,
    host: str,
    ports: Sequence[int],
    before_fork: Callable[[], None] | None = None,
) -> None:
    """``main()`` (which serves ``ports`` through :func:`serve_app`) in this process, or
    in ``workers`` processes sharing the ports (:mod:`polyfhir_servicekit.workers`)."""

    def bind_or_refuse(h: str, p: int) -> socket.socket:
        (sock,) = bound_sockets(h, (p,), partial(bind_listening, reuse_port=True))
        return sock

    if workers > 1:  # SO_REUSEPORT would share a port another server holds with it too:
        for sock in bound_sockets(host, ports, bind_listening):  # refuse it first, as one
            sock.close()  # worker does (the workers' sockets are bound right after)

    serve_processes(
        main,
        workers=workers,
        host=host,
        ports=ports,
        bind=bind_or_refuse,
        before_fork=before_fork,
    )


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
    shared = shared_socket(host, port)
    if shared is not None:  # a worker: the supervisor bound it for every worker
        return shared
    return bind_listening(host, port)


def bind_listening(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A bound socket (listening once served); ``reuse_port``: one of several bound to the
    port, among which the kernel spreads connections (``workers``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and
    # an accepted connection inherits it; without it Nagle and delayed ACKs add ~40 ms to
    # every small response (an internal call, a probe)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def run_service(
    prog: str,
    settings: ServiceSettings,
    serve: Callable[[str, int], Coroutine[Any, Any, None]],
    argv: list[str] | None = None,
    *,
    workers: int = 1,
    extra_ports: Callable[[int], Sequence[int]] = lambda _: (),
    before_fork: Callable[[], None] | None = None,
) -> None:
    """``prog [--host H] [--port P]``: configure logging, then run ``serve(host, port)``
    (in ``workers`` processes sharing the port and ``extra_ports(port)``, see
    :func:`serve_in_processes`)."""
    from polyfhir_servicekit.logs import configure_logging

    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    configure_logging(settings.log_level)
    port = check_port(args.port)
    serve_in_processes(
        lambda: serve(args.host, port),
        workers=workers,
        host=args.host,
        ports=(port, *extra_ports(port)),
        before_fork=before_fork,
    )


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
