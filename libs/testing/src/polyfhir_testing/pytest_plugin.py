"""pytest plugin: ``postgres_server``, started on first use, stopped at session end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from polyfhir_testing.postgres import ExternalPostgres, LocalPostgres, postgres_from_env


@pytest.fixture(scope="session")
def postgres_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalPostgres | ExternalPostgres]:
    """A PostgreSQL server: ``POLYFHIR_TEST_PG_DSN`` or the embedded one.

    Use ``postgres_server.create_database(name)`` for a fresh database DSN.
    """
    server = postgres_from_env(tmp_path_factory.mktemp("postgres"))
    try:
        yield server
    finally:
        server.stop()
