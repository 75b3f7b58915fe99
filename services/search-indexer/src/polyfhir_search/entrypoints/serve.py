"""``polyfhir-search-indexer``: internal query API and change-stream consumer in one process."""

from __future__ import annotations

from starlette.applications import Starlette

from polyfhir_search.bootstrap import SearchIndexer, bootstrap
from polyfhir_search.entrypoints.http import create_app
from polyfhir_search.settings import SearchSettings
from polyfhir_servicekit.serve import run_background_service
from polyfhir_servicekit.startup import guarded


def app_of(running: SearchIndexer) -> Starlette:
    return create_app(running.service)


@guarded
def main(argv: list[str] | None = None) -> None:
    run_background_service("polyfhir-search-indexer", SearchSettings(), bootstrap, app_of, argv)


if __name__ == "__main__":
    main()
