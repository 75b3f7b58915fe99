"""``polyfhir``: run the server.

``polyfhir run`` is the one-process topology: the gateway with the primary
store in-process (SQLite file under ./data by default, or PostgreSQL when
``POLYFHIR_PRIMARY_URL=postgresql://...``). This package is the composition
root: the only place that imports more than one service.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from polyfhir_gateway.app import create_app
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_primary.bootstrap import bootstrap
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.logs import configure_logging


async def run_standalone(host: str, port: int) -> None:
    primary = await bootstrap(PrimarySettings())
    app = create_app(primary.service, GatewaySettings())
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_config=None)
    try:
        await uvicorn.Server(config).serve()
    finally:
        await primary.close()


def main(argv: list[str] | None = None) -> None:
    settings = GatewaySettings()
    parser = argparse.ArgumentParser(
        prog="polyfhir", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the FHIR API in one process (gateway + primary store)")
    run.add_argument("--host", default=settings.host)
    run.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    configure_logging(settings.log_level)
    if args.command == "run":
        asyncio.run(run_standalone(args.host, args.port))


if __name__ == "__main__":
    main()
