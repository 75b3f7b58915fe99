"""The PostgreSQL pool gauges follow asyncpg's pool: its limit, open and acquired connections."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from polyfhir_primary.adapters.sql.postgres import PostgresDatabase
from polyfhir_primary.bootstrap import bootstrap
from polyfhir_primary.settings import PrimarySettings

pytestmark = pytest.mark.integration


def _gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


async def test_pool_gauges_follow_the_asyncpg_pool(postgres_url: str) -> None:
    app = await bootstrap(PrimarySettings(primary_url=postgres_url, pg_pool_min=2, pg_pool_max=7))
    try:
        assert isinstance(app.database, PostgresDatabase)
        assert _gauge("polyfhir_db_pool_max_size") == 7
        assert (_gauge("polyfhir_db_pool_size") or 0) >= 2
        idle_in_use = _gauge("polyfhir_db_pool_in_use")
        async with app.database.pool.acquire(), app.database.pool.acquire():
            assert _gauge("polyfhir_db_pool_in_use") == (idle_in_use or 0) + 2
    finally:
        await app.close()
