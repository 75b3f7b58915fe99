"""``polyfhir migrate``: lists what is pending, applies it, and a second run finds nothing;
a non-transactional PostgreSQL migration builds its index CONCURRENTLY."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from polyfhir_primary.adapters.sql.migrations import Migration, migrations_for
from polyfhir_primary.adapters.sql.postgres_migrations import apply_migrations

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "polyfhir.cli"]


def _migrate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"POLYFHIR_PRIMARY_URL": url, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*CLI, "migrate", *args], capture_output=True, text=True, env=env, timeout=240, check=False
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path}/migrate.db"
    server = request.getfixturevalue("postgres_server")
    return "postgres", str(server.create_database(f"migrate_{uuid.uuid4().hex[:10]}"))


def test_migrate_dry_run_lists_then_migrate_applies(empty_database: tuple[str, str]) -> None:
    dialect, url = empty_database
    every = [m.label for m in migrations_for(dialect)]
    dry = _migrate(url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        *(f"pending {label}" for label in every),
        f"{len(every)} migration(s) pending",
    ]
    applied = _migrate(url)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines()[-1] == f"{len(every)} migration(s) applied"
    again = _migrate(url, "--dry-run")
    assert again.stdout.splitlines() == ["0 migration(s) pending"]


async def test_a_non_transactional_migration_builds_its_index_concurrently(
    postgres_server: Any,
) -> None:
    url = str(postgres_server.create_database(f"concurrent_{uuid.uuid4().hex[:10]}"))
    raw = await asyncpg.connect(url)
    try:
        await apply_migrations(raw)
        extra = Migration(
            9_001,
            "probe_index",
            "-- polyfhir: no-transaction\n"
            "DROP INDEX CONCURRENTLY IF EXISTS resources_probe;\n"
            "CREATE INDEX CONCURRENTLY resources_probe ON resources (tenant, last_updated);\n",
        )
        # inside a transaction PostgreSQL refuses CONCURRENTLY: this ran outside one
        assert await apply_migrations(raw, [*migrations_for("postgres"), extra]) == [extra]
        valid = await raw.fetchval(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = 'resources_probe'"
        )
        assert valid is True
        assert 9_001 in {r[0] for r in await raw.fetch("SELECT version FROM schema_migrations")}
    finally:
        await raw.close()
