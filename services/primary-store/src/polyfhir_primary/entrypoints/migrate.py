"""``polyfhir-primary-store migrate [--dry-run]`` (and ``polyfhir migrate``): apply the
primary's schema migrations to ``POLYFHIR_PRIMARY_URL`` and exit.

Run before the services start (a Helm pre-install/pre-upgrade Job, a one-shot compose
service), so a primary-store pod binds its port at once instead of migrating behind a
long startup probe. The service still migrates at start (nothing is pending then);
``--dry-run`` lists what is pending and changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from polyfhir_primary.adapters.sql.migrations import Migration, migrations_for, pending
from polyfhir_primary.adapters.sql.postgres_migrations import (
    apply_migrations,
    pending_migrations,
)
from polyfhir_primary.bootstrap import (
    PG_NOT_YET_REACHABLE,
    PG_REFUSED,
    ConfigurationError,
    open_database,
    sqlite_path,
)
from polyfhir_primary.settings import PrimarySettings
from polyfhir_servicekit.startup import retry_until_reachable

log = logging.getLogger(__name__)


async def migrate(settings: PrimarySettings, *, dry_run: bool) -> list[Migration]:
    """Apply (or with ``dry_run`` only list) the pending migrations; returns them."""
    url = settings.primary_url
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        try:
            raw = await retry_until_reachable(
                lambda: asyncpg.connect(url),
                "PostgreSQL (POLYFHIR_PRIMARY_URL)",
                timeout_s=settings.db_connect_timeout_s,
                transient=PG_NOT_YET_REACHABLE,
            )
        except PG_REFUSED as exc:
            msg = f"PostgreSQL refused the connection (POLYFHIR_PRIMARY_URL): {exc}"
            raise ConfigurationError(msg) from exc
        try:
            return await (pending_migrations(raw) if dry_run else apply_migrations(raw))
        finally:
            await raw.close()
    if scheme == "sqlite":
        todo = await asyncio.to_thread(_sqlite_pending, sqlite_path(url))
        if not dry_run and todo:
            database = await open_database(settings)  # opening applies them
            await database.close()
        return todo
    raise ConfigurationError(
        f"POLYFHIR_PRIMARY_URL: unsupported scheme {scheme!r} (sqlite or postgresql)"
    )


def _sqlite_pending(path: str | None) -> list[Migration]:
    if path is None or not Path(path).exists():
        return migrations_for("sqlite")  # a new database: everything
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as raw:
        known = raw.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        applied = (
            {r[0] for r in raw.execute("SELECT version FROM schema_migrations")} if known else set()
        )
    return pending(migrations_for("sqlite"), applied)


def add_migrate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="list the pending migrations, apply nothing"
    )


def report(todo: list[Migration], *, dry_run: bool) -> None:
    """One line per migration on stdout, then one summary line."""
    for migration in todo:
        print(f"{'pending' if dry_run else 'applied'} {migration.label}")
    verb = "pending" if dry_run else "applied"
    print(f"{len(todo)} migration(s) {verb}", flush=True)


def run_migrate(argv: list[str], settings: PrimarySettings | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="polyfhir-primary-store migrate",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_migrate_arguments(parser)
    args = parser.parse_args(argv)
    settings = settings or PrimarySettings()
    todo = asyncio.run(migrate(settings, dry_run=args.dry_run))
    report(todo, dry_run=args.dry_run)
    return 0
