"""``polyfhir-graph-indexer``: internal query API and change-stream consumer in one process."""

from __future__ import annotations

from polyfhir_graph.bootstrap import bootstrap
from polyfhir_graph.entrypoints.http import create_app
from polyfhir_graph.settings import GraphSettings
from polyfhir_servicekit.serve import run_service, serve_app


async def serve(settings: GraphSettings, host: str, port: int) -> None:
    indexer = await bootstrap(settings)
    try:
        await indexer.start()
        await serve_app(create_app(indexer.service), host, port)
    finally:
        await indexer.close()


def main(argv: list[str] | None = None) -> None:
    settings = GraphSettings()
    run_service("polyfhir-graph-indexer", settings, lambda h, p: serve(settings, h, p), argv)


if __name__ == "__main__":
    main()
