"""The embedded PostgreSQL launcher: fresh, isolated databases; a clean stop."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from polyfhir_engines.postgres import LocalPostgres

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.mark.skipif(bool(os.environ.get("POLYFHIR_TEST_PG_DSN")), reason="external server given")
async def test_databases_are_isolated_and_stop_leaves_no_process(tmp_path: Path) -> None:
    server = LocalPostgres(tmp_path / "pg")
    try:
        first, second = server.create_database("first_db"), server.create_database("second_db")
        a, b = await asyncpg.connect(first), await asyncpg.connect(second)
        try:
            await a.execute("CREATE TABLE only_here (x int)")
            assert await a.fetchval("SELECT current_database()") == "first_db"
            assert await b.fetchval("SELECT to_regclass('only_here')") is None
        finally:
            await a.close()
            await b.close()
        pid = server.pid
        assert pid is not None
    finally:
        server.stop()
    assert not _alive(pid)
    server.stop()  # idempotent


def test_database_names_are_checked(tmp_path: Path) -> None:
    from polyfhir_testing.postgres import ExternalPostgres

    with pytest.raises(ValueError, match="database name"):
        ExternalPostgres("postgresql://localhost/postgres").create_database("x; DROP")
