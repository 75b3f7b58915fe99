"""``polyfhir-graph-indexer``: internal query API and change-stream consumer in one process."""

from __future__ import annotations

from starlette.applications import Starlette

from polyfhir_graph.bootstrap import GraphIndexer, bootstrap
from polyfhir_graph.entrypoints.http import create_app
from polyfhir_graph.settings import GraphSettings
from polyfhir_servicekit.serve import run_background_service
from polyfhir_servicekit.startup import guarded


def app_of(running: GraphIndexer) -> Starlette:
    return create_app(running.service)


@guarded
def main(argv: list[str] | None = None) -> None:
    run_background_service("polyfhir-graph-indexer", GraphSettings(), bootstrap, app_of, argv)


if __name__ == "__main__":
    main()
