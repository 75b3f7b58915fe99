"""Fixtures for the terminology-indexer tests: the same behaviour over SQLite (a file) and
the embedded PostgreSQL. One database per engine for the session; every test has its own
tenant, so tests never see each other's definitions.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fakes.events import change, delivery, unique
from polyfhir_bus.consumer import Batch
from polyfhir_bus.events import ResourceChanged
from polyfhir_bus.indexing.freshness import Freshness
from polyfhir_core.tenancy import TenantContext
from polyfhir_terminology.adapters.sql_store import SqlTerminologyStore
from polyfhir_terminology.bootstrap import build_database
from polyfhir_terminology.service_layer.indexer import Indexer
from polyfhir_terminology.service_layer.terminology_service import TerminologyService

ENGINES = ("sqlite", "postgresql")
MAX_EXPANSION = 50


def engine_url(engine: str, request: pytest.FixtureRequest, folder: Path) -> str:
    if engine == "sqlite":
        return f"sqlite:///{folder}/terminology-{uuid.uuid4().hex[:8]}.db"
    server = request.getfixturevalue("postgres_server")
    return str(server.create_database(f"terminology_{uuid.uuid4().hex[:10]}"))


@pytest.fixture(scope="session", params=ENGINES)
def terminology_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """One database per engine for the session (tests use their own tenants)."""
    return engine_url(str(request.param), request, tmp_path_factory.mktemp("terminology"))


@pytest.fixture
async def store(terminology_url: str) -> AsyncIterator[SqlTerminologyStore]:
    store = SqlTerminologyStore(build_database(terminology_url))
    await store.ensure_schema()
    try:
        yield store
    finally:
        await store.close()


class Harness:
    """A store with its batch handler and service, and one tenant of the test's own."""

    def __init__(self, store: SqlTerminologyStore, tenant: str | None = None) -> None:
        self.store = store
        self.tenant = tenant or unique("tenant")
        self.ctx = TenantContext.of(self.tenant)
        self.freshness = Freshness(store, recheck_s=0.05)
        self.indexer = Indexer(store, self.freshness)
        self.service = TerminologyService(store, self.freshness, MAX_EXPANSION)

    async def apply(self, *events: ResourceChanged) -> list[str]:
        """Apply the events as one batch; the ids dead-lettered."""
        rejected = await self.indexer(Batch([delivery(e) for e in events], {}))
        return [r.delivery.event.resource_id for r in rejected]

    def put(self, rid: str, version: int, resource: dict[str, Any]) -> ResourceChanged:
        body = {k: v for k, v in resource.items() if k != "resourceType"}
        return change(self.tenant, rid, version, body, resource_type=resource["resourceType"])

    def delete(self, rtype: str, rid: str, version: int) -> ResourceChanged:
        return change(self.tenant, rid, version, None, resource_type=rtype)


@pytest.fixture
def harness(store: SqlTerminologyStore) -> Harness:
    return Harness(store)


@pytest.fixture
def th() -> type[Harness]:
    return Harness
