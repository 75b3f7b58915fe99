"""``polyfhir-primary-store``: run the primary store as its own service;
``polyfhir-primary-store migrate [--dry-run]`` applies its schema migrations and exits."""

from __future__ import annotations

import sys

from polyfhir_primary.bootstrap import bootstrap
from polyfhir_primary.entrypoints.http import create_app
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.logs import configure_logging
from polyfhir_servicekit.serve import run_service, serve_app
from polyfhir_servicekit.startup import guarded


async def serve(settings: PrimarySettings, host: str, port: int) -> None:
    store = await bootstrap(settings)
    try:
        await serve_app(create_app(store.service), host, port)
    finally:
        await store.close()


@guarded
def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["migrate"]:
        from polyfhir_primary.entrypoints.migrate import run_migrate

        configure_logging(PrimarySettings().log_level)
        raise SystemExit(run_migrate(args[1:]))
    settings = PrimarySettings()
    run_service("polyfhir-primary-store", settings, lambda h, p: serve(settings, h, p), argv)


if __name__ == "__main__":
    main()
