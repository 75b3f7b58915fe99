"""``polyfhir-search-indexer``: internal query API and change-stream consumer in one process."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from polyfhir_search.bootstrap import bootstrap
from polyfhir_search.entrypoints.http import create_app
from polyfhir_search.settings import SearchSettings
from polyfhir_servicekit.logs import configure_logging


async def serve(settings: SearchSettings, host: str, port: int) -> None:
    indexer = await bootstrap(settings)
    try:
        await indexer.start()
        config = uvicorn.Config(
            create_app(indexer.service), host=host, port=port, access_log=False, log_config=None
        )
        await uvicorn.Server(config).serve()
    finally:
        await indexer.close()


def main(argv: list[str] | None = None) -> None:
    settings = SearchSettings()
    parser = argparse.ArgumentParser(prog="polyfhir-search-indexer")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    configure_logging(settings.log_level)
    asyncio.run(serve(settings, args.host, args.port))


if __name__ == "__main__":
    main()
