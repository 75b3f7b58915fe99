"""The expansion cache of the SQL terminology store, and the tenant generation guarding it.

A value set's full membership is kept per ``(tenant, cache_key)`` with the tenant's
generation it was computed at and the definitions it read (``expansion_dependencies``);
:mod:`.sql_writes` drops the rows depending on a changed definition and raises the
generation in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyfhir_terminology.adapters.database import Database, Row
from polyfhir_terminology.service_layer.ports import CachedExpansion


class SqlExpansionCache:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        async with self._db.reading() as conn:
            return await conn.fetch(sql, args)

    async def generation(self, tenant: str) -> int:
        rows = await self._fetch("SELECT generation FROM generations WHERE tenant = ?", (tenant,))
        return int(rows[0][0]) if rows else 0

    async def expansion_generation(self, tenant: str, key: str) -> int | None:
        rows = await self._fetch(
            "SELECT generation FROM expansions WHERE tenant = ? AND cache_key = ?", (tenant, key)
        )
        return int(rows[0][0]) if rows else None

    async def cached_expansion(self, tenant: str, key: str) -> CachedExpansion | None:
        rows = await self._fetch(
            "SELECT generation, body FROM expansions WHERE tenant = ? AND cache_key = ?",
            (tenant, key),
        )
        return CachedExpansion(key, int(rows[0][0]), bytes(rows[0][1])) if rows else None

    async def store_expansion(
        self,
        tenant: str,
        key: str,
        generation: int,
        dependencies: set[tuple[str, str]],
        body: bytes,
    ) -> bool:
        async with self._db.transaction() as conn:
            rows = await conn.fetch(
                f"SELECT generation FROM generations WHERE tenant = ?{self._db.share_lock}",
                (tenant,),
            )
            if (int(rows[0][0]) if rows else 0) != generation:
                return False  # a definition changed while this expansion was computed
            await conn.execute(
                "INSERT INTO expansions (tenant, cache_key, generation, body) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant, cache_key) DO UPDATE SET generation = excluded.generation,"
                " body = excluded.body",
                (tenant, key, generation, body),
            )
            await conn.executemany(
                "INSERT INTO expansion_dependencies (tenant, kind, url, cache_key)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(tenant, kind, url, key) for kind, url in sorted(dependencies)],
            )
            return True
