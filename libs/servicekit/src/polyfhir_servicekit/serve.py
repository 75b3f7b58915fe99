"""Running a service: one command line (``--host``, ``--port``), JSON logs, uvicorn."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import uvicorn

from polyfhir_servicekit.http_protocol import OutcomeHttpToolsProtocol


class ServiceSettings(Protocol):
    host: str
    port: int
    log_level: str


def server_config(app: Any, host: str, port: int) -> uvicorn.Config:
    """How every service is served: our logging, no access log, and requests uvicorn's
    parser rejects answered with an OperationOutcome
    (:mod:`polyfhir_servicekit.http_protocol`)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_config=None,
        http=OutcomeHttpToolsProtocol,
    )


async def serve_app(app: Any, host: str, port: int) -> None:
    """Serve an ASGI app until it is stopped (SIGINT/SIGTERM); logs go through ours."""
    await uvicorn.Server(server_config(app, host, port)).serve()


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
    asyncio.run(serve(args.host, args.port))
