"""Migration files: which run outside a transaction, and how such a file splits."""

from __future__ import annotations

import pytest

from polyfhir_primary.adapters.sql.migrations import Migration, migrations_for, pending

pytestmark = pytest.mark.unit


def test_a_marked_file_runs_statement_by_statement() -> None:
    sql = (
        "-- polyfhir: no-transaction\n-- why\n"
        "DROP INDEX CONCURRENTLY IF EXISTS i;\n"
        "CREATE INDEX CONCURRENTLY i ON t (a,\n    b);\n"
        "-- trailing note\n"
    )
    migration = Migration(18, "x", sql)
    assert not migration.transactional
    assert migration.statements() == [
        "DROP INDEX CONCURRENTLY IF EXISTS i;",
        "CREATE INDEX CONCURRENTLY i ON t (a,\n    b);",
    ]


def test_an_unmarked_file_is_one_transaction() -> None:
    assert Migration(1, "x", "-- note\nCREATE TABLE t (a INT);\n").transactional


def test_pending_keeps_the_order_and_skips_the_applied() -> None:
    migrations = [Migration(v, f"m{v}", "SELECT 1;") for v in (1, 2, 3)]
    assert [m.label for m in pending(migrations, {2})] == ["0001_m1", "0003_m3"]


def test_every_concurrent_index_build_is_in_a_non_transactional_file() -> None:
    for migration in migrations_for("postgres"):
        if "CONCURRENTLY" in migration.sql:
            assert not migration.transactional, migration.label
            for statement in migration.statements():
                if statement.startswith("CREATE INDEX CONCURRENTLY"):
                    name = statement.split()[3]
                    # a stopped run leaves an invalid index: the file drops it first
                    assert f"DROP INDEX CONCURRENTLY IF EXISTS {name};" in migration.sql
