"""Planner statistics of each tenant schema as it grows (schema per tenant).

The shared strategy's background ANALYZE (``postgres.Statistics``) watches the
control schema's tables; under schema per tenant the rows are in the tenant
schemas, and a freshly provisioned tenant's tables are exactly the never-analysed
kind on which PostgreSQL plans a search's EXISTS tree as nested loops (seconds
instead of milliseconds, see ``postgres.Statistics``). So each tenant schema a
process writes to gets its own :class:`GrowthAnalyzer`: ANALYZE of its stale
tables after 100, 200, 400, … versions, in a transaction bound to the schema.
"""

from __future__ import annotations

import logging

import asyncpg

from polyfhir_primary.adapters.sql.postgres import _STALE_TABLES, ANALYZED_TABLES
from polyfhir_primary.adapters.sql.statistics import GrowthAnalyzer

log = logging.getLogger(__name__)


class SchemaStatistics(GrowthAnalyzer):
    def __init__(self, pool: asyncpg.Pool, search_path: str) -> None:
        super().__init__()
        self._pool, self._search_path = pool, search_path

    async def analyze(self) -> None:
        try:
            async with self._pool.acquire() as raw, raw.transaction():
                await raw.execute("SELECT set_config('search_path', $1, true)", self._search_path)
                stale = await raw.fetch(_STALE_TABLES, list(ANALYZED_TABLES))
                if stale:
                    await raw.execute(f"ANALYZE {', '.join(r[0] for r in stale)}")
        except (asyncpg.PostgresError, OSError) as exc:  # statistics are an optimisation
            log.warning("background ANALYZE of %s failed: %s", self._search_path, exc)
