"""Keep closure rows and value-set rules in step with stored CodeSystems and ValueSets."""

from __future__ import annotations

from typing import Any

from polyfhir_primary.adapters.sql.dialect import Conn, Dialect, plain_insert
from polyfhir_primary.domain.terminology import canonical, closure, valueset_rules

# A plain INSERT, so PostgreSQL sends many rows with COPY (write_batches): ICD-10-CM's
# ~600,000 closure rows took ~40 s as an executemany there.
_INSERT_CLOSURE = plain_insert(
    "terminology_closure", ("tenant", "owner_id", "system", "ancestor", "descendant")
)


async def write_terminology(
    conn: Conn, d: Dialect, owner: tuple[str, str, str], content: dict[str, Any] | None
) -> None:
    tenant, rtype, rid = owner
    if rtype == "CodeSystem":
        await conn.execute(
            "DELETE FROM terminology_closure WHERE tenant = ? AND owner_id = ?", (tenant, rid)
        )
        url = (content or {}).get("url")
        if content is not None and isinstance(url, str):
            system = canonical(url)
            rows = [(tenant, rid, system, a, b) for a, b in closure(content)]
            await conn.write_batches([(_INSERT_CLOSURE, rows)])
    elif rtype == "ValueSet":
        await conn.execute(
            "DELETE FROM valueset_rules WHERE tenant = ? AND owner_id = ?", (tenant, rid)
        )
        url = (content or {}).get("url")
        if content is not None and isinstance(url, str):
            rows2 = [
                (tenant, rid, canonical(url), r.system, r.op, r.code, d.flag(r.exclude))
                for r in valueset_rules(content)
            ]
            await conn.executemany(
                "INSERT INTO valueset_rules (tenant, owner_id, url, system, op, code, exclude)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows2,
            )
