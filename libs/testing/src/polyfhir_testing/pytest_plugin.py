"""pytest plugin: local engines (``postgres_server``, ``kafka_broker``, ``opensearch_server``,
``falkordb_server``, ``s3_server``),
started on first use, stopped at session end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from polyfhir_engines.falkordb import LocalFalkorDB
from polyfhir_engines.osmem import LocalOpenSearch
from polyfhir_engines.postgres import LocalPostgres
from polyfhir_engines.tansu import LocalKafka
from polyfhir_testing.postgres import ExternalPostgres, postgres_from_env
from polyfhir_testing.s3 import LocalS3


@pytest.fixture(scope="session")
def postgres_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalPostgres | ExternalPostgres]:
    """A PostgreSQL server: ``POLYFHIR_TEST_PG_DSN`` or the embedded one.

    Use ``postgres_server.create_database(name)`` for a fresh database DSN.
    """
    server = postgres_from_env(tmp_path_factory.mktemp("postgres"))
    if isinstance(server, LocalPostgres):
        # No fsync: a test never survives an operating-system crash, only a killed
        # process, and what a commit wrote has reached the kernel by then. Without it
        # DROP/CREATE DATABASE (database per tenant) and every commit stop waiting for
        # a disk shared by the other test workers. Benchmarks keep the defaults.
        server.reload({"fsync": "off"})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A Tansu broker for the session. Tests use unique topic/group names, or restart it
    themselves through their own ``LocalKafka`` when they need a broker to themselves."""
    with LocalKafka(log_dir=tmp_path_factory.mktemp("tansu")) as broker:
        yield broker


@pytest.fixture(scope="session")
def opensearch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpenSearch]:
    """An osmem-server for the session; tests use unique index prefixes."""
    with LocalOpenSearch(log_dir=tmp_path_factory.mktemp("osmem")) as server:
        yield server


@pytest.fixture(scope="session")
def falkordb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFalkorDB]:
    """A FalkorDB server for the session; tests use unique graph names and tenants."""
    with LocalFalkorDB(log_dir=tmp_path_factory.mktemp("falkordb")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """moto's S3 server for the session; tests create buckets of unique names."""
    with LocalS3(tmp_path_factory.mktemp("s3")) as server:
        yield server
