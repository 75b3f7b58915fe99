"""``polyfhir-gateway``: the gateway as its own service, talking to primary-store over HTTP."""

from __future__ import annotations

import argparse

import uvicorn

from polyfhir_gateway.bootstrap import build_remote_app
from polyfhir_gateway.settings import GatewaySettings
from polyfhir_servicekit.logs import configure_logging


def main(argv: list[str] | None = None) -> None:
    settings = GatewaySettings()
    parser = argparse.ArgumentParser(prog="polyfhir-gateway")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    configure_logging(settings.log_level)
    uvicorn.run(
        build_remote_app(settings),
        host=args.host,
        port=args.port,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
