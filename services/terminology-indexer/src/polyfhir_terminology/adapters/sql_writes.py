"""Writing one definition (or its tombstone) in one transaction, guarded by version.

The held version decides: an older event is stale; an equal or newer one
replaces the resource's rows (an equal version rewrites the same content, so a
batch cut short is repaired by its redelivery). Every change raises the
tenant's generation and drops the cached expansions that depend on the URLs
the definition had or has.
"""

from __future__ import annotations

from typing import Any

import orjson

from polyfhir_terminology.adapters.database import Connection
from polyfhir_terminology.domain.codesystem import CodeSystemRows
from polyfhir_terminology.domain.conceptmap import ConceptMapRows
from polyfhir_terminology.domain.items import TerminologyItem, ValueSetRow

MAX_INDEXED_TEXT = 512  # property values are indexed: longer ones are compared by prefix
_DEFINITION_TABLES = {
    "CodeSystem": ("code_systems", "concepts", "designations", "concept_properties", "closure"),
    "ValueSet": ("value_sets",),
    "ConceptMap": ("concept_maps", "concept_map_rows"),
}
_OWNER_COLUMN = {
    "code_systems": "resource_id",
    "value_sets": "resource_id",
    "concept_maps": "resource_id",
    "concept_map_rows": "map_id",
}
DEPENDENCY_KIND = {"CodeSystem": "cs", "ValueSet": "vs"}


async def held_version(conn: Connection, item: TerminologyItem) -> int | None:
    rows = await conn.fetch(
        "SELECT version FROM resource_versions"
        " WHERE tenant = ? AND resource_type = ? AND resource_id = ?",
        (item.tenant, item.resource_type, item.resource_id),
    )
    return int(rows[0][0]) if rows else None


async def write_item(conn: Connection, item: TerminologyItem) -> None:
    """The item replaces what the store held for its resource (the caller guarded the version)."""
    await conn.execute(
        "INSERT INTO resource_versions"
        " (tenant, resource_type, resource_id, version, deleted, last_updated)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (tenant, resource_type, resource_id) DO UPDATE SET"
        " version = excluded.version, deleted = excluded.deleted,"
        " last_updated = excluded.last_updated",
        (
            item.tenant,
            item.resource_type,
            item.resource_id,
            item.version,
            int(item.deleted),
            item.last_updated.isoformat(),
        ),
    )
    if item.resource_type not in _DEFINITION_TABLES:
        return
    old_url = await _held_url(conn, item)
    await _remove_definition(conn, item.tenant, item.resource_type, item.resource_id)
    definition = item.definition
    if isinstance(definition, CodeSystemRows):
        await _write_code_system(conn, item, definition)
    elif isinstance(definition, ValueSetRow):
        await _write_value_set(conn, item, definition)
    elif isinstance(definition, ConceptMapRows):
        await _write_concept_map(conn, item, definition)
    new_url = getattr(definition, "url", None)
    await invalidate(conn, item, {u for u in (old_url, new_url) if u})


async def invalidate(conn: Connection, item: TerminologyItem, urls: set[str]) -> None:
    """Raise the generation first (on PostgreSQL its row lock orders this against a
    concurrent cache write), then drop the expansions depending on the definition."""
    await bump_generation(conn, item.tenant)
    kind = DEPENDENCY_KIND.get(item.resource_type)
    targets = [(kind, url) for url in urls] if kind else []
    if item.resource_type == "ValueSet":
        targets.append(("id", item.resource_id))
    for dep_kind, url in targets:
        await conn.execute(
            "DELETE FROM expansions WHERE tenant = ? AND cache_key IN (SELECT cache_key FROM"
            " expansion_dependencies WHERE tenant = ? AND kind = ? AND url = ?)",
            (item.tenant, item.tenant, dep_kind, url),
        )
        await conn.execute(
            "DELETE FROM expansion_dependencies WHERE tenant = ? AND kind = ? AND url = ?",
            (item.tenant, dep_kind, url),
        )


async def bump_generation(conn: Connection, tenant: str) -> None:
    await conn.execute(
        "INSERT INTO generations (tenant, generation) VALUES (?, 1) ON CONFLICT (tenant)"
        " DO UPDATE SET generation = generations.generation + 1",
        (tenant,),
    )


async def _held_url(conn: Connection, item: TerminologyItem) -> str | None:
    table = _DEFINITION_TABLES[item.resource_type][0]
    rows = await conn.fetch(
        f"SELECT url FROM {table} WHERE tenant = ? AND resource_id = ?",
        (item.tenant, item.resource_id),
    )
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


async def _remove_definition(conn: Connection, tenant: str, rtype: str, rid: str) -> None:
    for table in _DEFINITION_TABLES[rtype]:
        column = _OWNER_COLUMN.get(table, "cs_id")
        await conn.execute(f"DELETE FROM {table} WHERE tenant = ? AND {column} = ?", (tenant, rid))


async def _write_code_system(conn: Connection, item: TerminologyItem, cs: CodeSystemRows) -> None:
    t, rid = item.tenant, item.resource_id
    await conn.execute(
        "INSERT INTO code_systems (tenant, resource_id, url, version, name, hierarchy_meaning,"
        " resource_version, last_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (t, rid, cs.url, cs.version, cs.name, cs.hierarchy_meaning, item.version,
         item.last_updated.isoformat()),
    )  # fmt: skip
    for table, columns, rows in _concept_tables(t, rid, cs):
        await conn.insert_rows(table, columns, rows)


def _concept_tables(
    t: str, rid: str, cs: CodeSystemRows
) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
    """The rows of a CodeSystem's concepts, per table (each written in one go)."""
    return [
        (
            "concepts",
            ("tenant", "cs_id", "code", "display", "definition", "inactive", "abstract"),
            [(t, rid, c.code, c.display, c.definition, int(c.inactive), int(c.abstract))
             for c in cs.concepts],
        ),
        (
            "designations",
            ("tenant", "cs_id", "code", "value", "language", "use_system", "use_code",
             "use_display"),
            [(t, rid, d.code, d.value, d.language, d.use_system, d.use_code, d.use_display)
             for d in cs.designations],
        ),
        (
            "concept_properties",
            ("tenant", "cs_id", "code", "property", "value", "value_text"),
            [(t, rid, p.code, p.property, orjson.dumps(p.value).decode(),
              p.text[:MAX_INDEXED_TEXT]) for p in cs.properties],
        ),
        ("closure", ("tenant", "cs_id", "ancestor", "descendant"),
         [(t, rid, a, d) for a, d in cs.closure]),
    ]  # fmt: skip


async def _write_value_set(conn: Connection, item: TerminologyItem, vs: ValueSetRow) -> None:
    await conn.execute(
        "INSERT INTO value_sets (tenant, resource_id, url, version, name, resource_version,"
        " last_updated, resource) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            item.tenant,
            item.resource_id,
            vs.url,
            vs.version,
            vs.name,
            item.version,
            item.last_updated.isoformat(),
            orjson.dumps(vs.resource).decode(),
        ),
    )


async def _write_concept_map(conn: Connection, item: TerminologyItem, cm: ConceptMapRows) -> None:
    t, rid = item.tenant, item.resource_id
    await conn.execute(
        "INSERT INTO concept_maps (tenant, resource_id, url, version, source, target,"
        " last_updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (t, rid, cm.url, cm.version, cm.source, cm.target, item.last_updated.isoformat()),
    )
    await conn.insert_rows(
        "concept_map_rows",
        (
            "tenant",
            "map_id",
            "source_system",
            "source_code",
            "source_display",
            "target_system",
            "target_code",
            "target_display",
            "equivalence",
            "comment",
        ),
        [
            (
                t,
                rid,
                r.source_system,
                r.source_code,
                r.source_display,
                r.target_system,
                r.target_code,
                r.target_display,
                r.equivalence,
                r.comment,
            )
            for r in cm.rows
        ],
    )


TENANT_TABLES = (
    "resource_versions",
    "code_systems",
    "concepts",
    "designations",
    "concept_properties",
    "closure",
    "value_sets",
    "concept_maps",
    "concept_map_rows",
    "expansions",
    "expansion_dependencies",
)


async def forget(conn: Connection, item: TerminologyItem) -> None:
    """Remove what the store holds for the item's resource (the reconciler's repair)."""
    await conn.execute(
        "DELETE FROM resource_versions WHERE tenant = ? AND resource_type = ? AND resource_id = ?",
        (item.tenant, item.resource_type, item.resource_id),
    )
    if item.resource_type in _DEFINITION_TABLES:
        old_url = await _held_url(conn, item)
        await _remove_definition(conn, item.tenant, item.resource_type, item.resource_id)
        await invalidate(conn, item, {old_url} if old_url else set())
