"""``polyfhir-graph-indexer``: internal query API and change-stream consumer in one process."""

from __future__ import annotations

from polyfhir_graph.bootstrap import bootstrap
from polyfhir_graph.entrypoints.http import create_app
from polyfhir_graph.settings import GraphSettings
from polyfhir_servicekit.serve import run_background_service


def main(argv: list[str] | None = None) -> None:
    settings = GraphSettings()
    run_background_service(
        "polyfhir-graph-indexer",
        settings,
        lambda: bootstrap(settings),
        lambda running: create_app(running.service),
        argv,
    )


if __name__ == "__main__":
    main()
