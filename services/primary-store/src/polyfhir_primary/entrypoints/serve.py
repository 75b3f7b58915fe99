"""``polyfhir-primary-store``: run the primary store as its own service."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from polyfhir_primary.bootstrap import bootstrap
from polyfhir_primary.entrypoints.http import create_app
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.logs import configure_logging


async def serve(settings: PrimarySettings, host: str, port: int) -> None:
    store = await bootstrap(settings)
    try:
        config = uvicorn.Config(
            create_app(store.service), host=host, port=port, access_log=False, log_config=None
        )
        await uvicorn.Server(config).serve()
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> None:
    settings = PrimarySettings()
    parser = argparse.ArgumentParser(prog="polyfhir-primary-store")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    configure_logging(settings.log_level)
    asyncio.run(serve(settings, args.host, args.port))


if __name__ == "__main__":
    main()
