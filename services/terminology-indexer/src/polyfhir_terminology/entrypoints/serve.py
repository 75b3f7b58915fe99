"""``polyfhir-terminology-indexer``: internal API and change-stream consumer in one process."""

from __future__ import annotations

from starlette.applications import Starlette

from polyfhir_servicekit.serve import run_background_service
from polyfhir_servicekit.startup import guarded
from polyfhir_terminology.bootstrap import TerminologyIndexer, bootstrap
from polyfhir_terminology.entrypoints.http import create_app
from polyfhir_terminology.settings import TerminologySettings


def app_of(running: TerminologyIndexer) -> Starlette:
    return create_app(running.service)


@guarded
def main(argv: list[str] | None = None) -> None:
    run_background_service(
        "polyfhir-terminology-indexer", TerminologySettings(), bootstrap, app_of, argv
    )


if __name__ == "__main__":
    main()
