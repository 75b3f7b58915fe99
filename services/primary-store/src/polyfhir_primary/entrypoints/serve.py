"""``polyfhir-primary-store``: run the primary store as its own service."""

from __future__ import annotations

from polyfhir_primary.bootstrap import bootstrap
from polyfhir_primary.entrypoints.http import create_app
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.serve import run_service, serve_app


async def serve(settings: PrimarySettings, host: str, port: int) -> None:
    store = await bootstrap(settings)
    try:
        await serve_app(create_app(store.service), host, port)
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> None:
    settings = PrimarySettings()
    run_service("polyfhir-primary-store", settings, lambda h, p: serve(settings, h, p), argv)


if __name__ == "__main__":
    main()
