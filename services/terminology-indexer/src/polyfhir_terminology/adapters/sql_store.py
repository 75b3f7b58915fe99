"""The terminology store over SQL (SQLite or PostgreSQL, :mod:`.database`).

Every statement names the tenant. Writes: one transaction per definition
(:mod:`.sql_writes`); positions raised only. Reads: the definitions, the
closure, and the expansion cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.resources import ResourceKey
from polyfhir_terminology.adapters.database import Row, marks
from polyfhir_terminology.adapters.sql_cache import SqlExpansionCache
from polyfhir_terminology.adapters.sql_writes import (
    TENANT_TABLES,
    bump_generation,
    forget,
    held_version,
    write_item,
)
from polyfhir_terminology.domain.codesystem import CodeSystemRows, DesignationRow
from polyfhir_terminology.domain.conceptmap import MapRow
from polyfhir_terminology.domain.items import TerminologyItem
from polyfhir_terminology.service_layer.ports import (
    CodeSystemRecord,
    ConceptMapRecord,
    ConceptRecord,
    DefinitionRefused,
    ItemResult,
    Outcome,
    PropertyRecord,
    ValueSetRecord,
)

CHUNK = 500  # values per IN list
LARGE_LOAD = 10_000  # concepts applied in one batch after which statistics are refreshed
CONCEPT_TABLES = ("concepts", "designations", "concept_properties", "closure")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CONCEPT = "SELECT code, display, definition, inactive, abstract FROM concepts"
_MAP_COLUMNS = (
    "map_id, source_system, source_code, source_display, target_system, target_code,"
    " target_display, equivalence, comment"
)


def _concept(row: Row) -> ConceptRecord:
    return ConceptRecord(row[0], row[1], row[2], bool(row[3]), bool(row[4]))


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


class SqlTerminologyStore(SqlExpansionCache):
    async def ensure_schema(self) -> None:
        await self._db.migrate()

    async def ping(self) -> None:
        await self._db.ping()

    async def close(self) -> None:
        await self._db.close()

    # -- writes ---------------------------------------------------------------------------

    async def apply(self, items: list[TerminologyItem]) -> list[ItemResult]:
        results = await self._apply_each(items)
        concepts = sum(
            len(r.item.definition.concepts)
            for r in results
            if r.outcome is Outcome.APPLIED and isinstance(r.item.definition, CodeSystemRows)
        )
        if concepts >= LARGE_LOAD:
            await self._db.analyze(CONCEPT_TABLES)
        return results

    async def _apply_each(self, items: list[TerminologyItem]) -> list[ItemResult]:
        results = []
        for item in items:
            if item.refusal is not None:
                results.append(ItemResult(item, Outcome.REJECTED, item.refusal))
                continue
            try:
                results.append(ItemResult(item, await self._apply_one(item)))
            except DefinitionRefused as exc:
                results.append(ItemResult(item, Outcome.REJECTED, str(exc)))
        return results

    async def _apply_one(self, item: TerminologyItem) -> Outcome:
        async with self._db.transaction() as conn:
            held = await held_version(conn, item)
            if held is not None and held > item.version:
                return Outcome.STALE
            await write_item(conn, item)
            return Outcome.APPLIED

    async def record_positions(self, positions: dict[int, int]) -> None:
        if not positions:
            return
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO applied_positions (part, applied) VALUES (?, ?) ON CONFLICT (part)"
                " DO UPDATE SET applied = excluded.applied"
                " WHERE applied_positions.applied < excluded.applied",
                sorted(positions.items()),
            )

    async def delete(self, tenant: str, keys: list[ResourceKey]) -> int:
        held = {(v.resource_type, v.id) for v in await self.versions(tenant, keys)}
        for resource_type, resource_id in sorted(held):
            async with self._db.transaction() as conn:
                gone = TerminologyItem(tenant, resource_type, resource_id, 0, _EPOCH, True)
                await forget(conn, gone)
        return len(held)

    async def delete_tenant(self, tenant: str) -> int:
        async with self._db.transaction() as conn:
            count = await conn.fetch(
                "SELECT count(*) FROM resource_versions WHERE tenant = ?", (tenant,)
            )
            for table in TENANT_TABLES:
                await conn.execute(f"DELETE FROM {table} WHERE tenant = ?", (tenant,))
            await bump_generation(conn, tenant)  # raised, never reset: it names expansions
            return int(count[0][0])

    # -- freshness and reconciliation ----------------------------------------------------

    async def positions(self) -> dict[int, int]:
        rows = await self._fetch("SELECT part, applied FROM applied_positions")
        return {int(p): int(a) for p, a in rows}

    async def versions(self, tenant: str, keys: list[ResourceKey]) -> list[IndexedVersion]:
        found: list[IndexedVersion] = []
        for key in keys:
            rows = await self._fetch(
                "SELECT version, deleted FROM resource_versions WHERE tenant = ?"
                " AND resource_type = ? AND resource_id = ?",
                (tenant, key.resource_type, key.id),
            )
            found += [IndexedVersion(key.resource_type, key.id, int(v), bool(d)) for v, d in rows]
        return found

    async def scan(
        self, tenant: str, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        start = ("", "") if after is None else (after.resource_type, after.id)
        rows = await self._fetch(
            "SELECT resource_type, resource_id, version, deleted FROM resource_versions"
            " WHERE tenant = ? AND (resource_type > ? OR (resource_type = ? AND resource_id > ?))"
            " ORDER BY resource_type, resource_id LIMIT ?",
            (tenant, start[0], start[0], start[1], limit),
        )
        return [IndexedVersion(t, i, int(v), bool(d)) for t, i, v, d in rows]

    # -- definitions ----------------------------------------------------------------------

    async def code_systems(self, tenant: str, url: str) -> list[CodeSystemRecord]:
        rows = await self._fetch(
            "SELECT resource_id, url, version, name, hierarchy_meaning FROM code_systems"
            " WHERE tenant = ? AND url = ? ORDER BY last_updated DESC, resource_id",
            (tenant, url),
        )
        return [CodeSystemRecord(*row) for row in rows]

    async def concepts(self, tenant: str, cs_id: str, codes: list[str]) -> list[ConceptRecord]:
        found: list[ConceptRecord] = []
        for chunk in _chunks(codes):
            rows = await self._fetch(
                f"{_CONCEPT} WHERE tenant = ? AND cs_id = ? AND code IN ({marks(len(chunk))})",
                (tenant, cs_id, *chunk),
            )
            found += [_concept(r) for r in rows]
        return found

    async def all_concepts(self, tenant: str, cs_id: str) -> list[ConceptRecord]:
        rows = await self._fetch(
            f"{_CONCEPT} WHERE tenant = ? AND cs_id = ? ORDER BY code", (tenant, cs_id)
        )
        return [_concept(r) for r in rows]

    async def descendants(self, tenant: str, cs_id: str, code: str, limit: int) -> list[str]:
        rows = await self._fetch(
            "SELECT descendant FROM closure WHERE tenant = ? AND cs_id = ? AND ancestor = ?"
            " ORDER BY descendant LIMIT ?",
            (tenant, cs_id, code, limit),
        )
        return [r[0] for r in rows]

    async def ancestors(self, tenant: str, cs_id: str, code: str, limit: int) -> list[str]:
        rows = await self._fetch(
            "SELECT ancestor FROM closure WHERE tenant = ? AND cs_id = ? AND descendant = ?"
            " ORDER BY ancestor LIMIT ?",
            (tenant, cs_id, code, limit),
        )
        return [r[0] for r in rows]

    async def properties(
        self, tenant: str, cs_id: str, codes: list[str], names: list[str] | None
    ) -> list[PropertyRecord]:
        found: list[PropertyRecord] = []
        for chunk in _chunks(codes):
            sql = (
                "SELECT code, property, value, value_text FROM concept_properties"
                f" WHERE tenant = ? AND cs_id = ? AND code IN ({marks(len(chunk))})"
            )
            args: list[Any] = [tenant, cs_id, *chunk]
            if names is not None:
                sql += f" AND property IN ({marks(len(names))})"
                args += names
            rows = await self._fetch(sql, args)
            found += [PropertyRecord(c, p, orjson.loads(v), t) for c, p, v, t in rows]
        return found

    async def property_values(self, tenant: str, cs_id: str, name: str) -> list[tuple[str, str]]:
        rows = await self._fetch(
            "SELECT code, value_text FROM concept_properties"
            " WHERE tenant = ? AND cs_id = ? AND property = ?",
            (tenant, cs_id, name),
        )
        return [(c, t) for c, t in rows]

    async def children(self, tenant: str, cs_id: str, code: str) -> list[str]:
        # sorted here: ORDER BY code leads SQLite (no statistics) to the code index, a scan
        rows = await self._fetch(
            "SELECT code FROM concept_properties WHERE tenant = ? AND cs_id = ?"
            " AND property = 'parent' AND value_text = ?",
            (tenant, cs_id, code),
        )
        return sorted(r[0] for r in rows)

    async def designations(
        self, tenant: str, cs_id: str, codes: list[str] | None
    ) -> list[DesignationRow]:
        columns = "code, value, language, use_system, use_code, use_display"
        if codes is None:
            rows = await self._fetch(
                f"SELECT {columns} FROM designations WHERE tenant = ? AND cs_id = ?",
                (tenant, cs_id),
            )
            return [DesignationRow(*r) for r in rows]
        found: list[DesignationRow] = []
        for chunk in _chunks(codes):
            rows = await self._fetch(
                f"SELECT {columns} FROM designations WHERE tenant = ? AND cs_id = ?"
                f" AND code IN ({marks(len(chunk))})",
                (tenant, cs_id, *chunk),
            )
            found += [DesignationRow(*r) for r in rows]
        return found

    async def value_set(
        self, tenant: str, *, url: str | None = None, resource_id: str | None = None
    ) -> list[ValueSetRecord]:
        where, arg = ("url = ?", url) if url is not None else ("resource_id = ?", resource_id)
        rows = await self._fetch(
            "SELECT resource_id, resource_version, url, version, resource FROM value_sets"
            f" WHERE tenant = ? AND {where} ORDER BY last_updated DESC, resource_id",
            (tenant, arg),
        )
        return [ValueSetRecord(r[0], int(r[1]), r[2], r[3], orjson.loads(r[4])) for r in rows]

    async def concept_maps(
        self,
        tenant: str,
        *,
        url: str | None = None,
        resource_id: str | None = None,
        source: str | None = None,
        target: str | None = None,
    ) -> list[ConceptMapRecord]:
        sql = "SELECT resource_id, url, version FROM concept_maps WHERE tenant = ?"
        args: list[Any] = [tenant]
        for column, value in (
            ("url", url),
            ("resource_id", resource_id),
            ("source", source),
            ("target", target),
        ):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        rows = await self._fetch(sql + " ORDER BY last_updated DESC, resource_id", args)
        return [ConceptMapRecord(*r) for r in rows]

    async def map_rows(
        self, tenant: str, map_ids: list[str], system: str, code: str, *, reverse: bool
    ) -> list[tuple[str, MapRow]]:
        if not map_ids:
            return []
        side = "target" if reverse else "source"
        rows = await self._fetch(
            f"SELECT {_MAP_COLUMNS} FROM concept_map_rows WHERE tenant = ?"
            f" AND {side}_system = ? AND {side}_code = ? AND map_id IN ({marks(len(map_ids))})",
            (tenant, system, code, *map_ids),
        )
        return [(r[0], MapRow(*r[1:])) for r in rows]

    async def counts(self, tenant: str) -> tuple[int, int, int, int]:
        found = []
        for table in ("code_systems", "value_sets", "concept_maps", "concepts"):
            rows = await self._fetch(f"SELECT count(*) FROM {table} WHERE tenant = ?", (tenant,))
            found.append(int(rows[0][0]))
        return found[0], found[1], found[2], found[3]
