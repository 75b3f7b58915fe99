"""Applying the PostgreSQL migrations over one connection, under an advisory lock.

Every replica of the primary-store and ``polyfhir migrate`` may start at once: the
lock lets one apply and the others find nothing left to do.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import asyncpg

from polyfhir_primary.adapters.sql.migrations import (
    CREATE_LEDGER,
    Migration,
    migrations_for,
    pending,
)
from polyfhir_primary.adapters.sql.pg_scope import BIND_SYSTEM

MIGRATION_LOCK = 7_312_004_211

log = logging.getLogger(__name__)


async def pending_migrations(raw: asyncpg.Connection) -> list[Migration]:
    """The migrations this database has not applied (reads only; no ledger created)."""
    exists = await raw.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    applied = (
        {r[0] for r in await raw.fetch("SELECT version FROM schema_migrations")}
        if exists
        else set()
    )
    return pending(migrations_for("postgres"), applied)


async def apply_migrations(
    raw: asyncpg.Connection, migrations: list[Migration] | None = None
) -> list[Migration]:
    """Apply what is pending, in order; returns what this call applied."""
    await raw.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await raw.execute(CREATE_LEDGER)
        applied = {r[0] for r in await raw.fetch("SELECT version FROM schema_migrations")}
        todo = pending(
            migrations if migrations is not None else migrations_for("postgres"), applied
        )
        for migration in todo:
            log.info("applying migration %s", migration.label, extra={"migration": migration.label})
            await _apply(raw, migration)
        return todo
    finally:
        await raw.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def _apply(raw: asyncpg.Connection, migration: Migration) -> None:
    ledger = "INSERT INTO schema_migrations VALUES ($1, $2, $3)"
    stamp = datetime.now(UTC).isoformat()
    if migration.transactional:
        async with raw.transaction():
            await raw.execute(BIND_SYSTEM)  # data migrations see every tenant (row-level security)
            await raw.execute(migration.sql)
            await raw.execute(ledger, migration.version, migration.name, stamp)
        return
    for statement in migration.statements():  # autocommit: CREATE INDEX CONCURRENTLY
        await raw.execute(statement)
    await raw.execute(ledger, migration.version, migration.name, stamp)
