"""``polyfhir-search-indexer``: internal query API and change-stream consumer in one process."""

from __future__ import annotations

from polyfhir_search.bootstrap import bootstrap
from polyfhir_search.entrypoints.http import create_app
from polyfhir_search.settings import SearchSettings
from polyfhir_servicekit.serve import run_background_service


def main(argv: list[str] | None = None) -> None:
    settings = SearchSettings()
    run_background_service(
        "polyfhir-search-indexer",
        settings,
        lambda: bootstrap(settings),
        lambda running: create_app(running.service),
        argv,
    )


if __name__ == "__main__":
    main()
