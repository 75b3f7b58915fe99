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
    run_service(
        "polyfhir-primary-store",
        settings,
        lambda h, p: serve(settings, h, p),
        argv,
        workers=settings.workers,
        before_fork=lambda: migrate_once(settings),
    )


def migrate_once(settings: PrimarySettings) -> None:
    """The schema migrations, before the workers fork: each worker's bootstrap then
    finds nothing to apply (SQLite has no lock to make concurrent first starts safe)."""
    import asyncio

    from polyfhir_primary.entrypoints.migrate import migrate

    asyncio.run(migrate(settings, dry_run=False))


if __name__ == "__main__":
    main()
