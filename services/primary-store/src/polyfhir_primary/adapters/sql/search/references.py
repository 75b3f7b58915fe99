"""Reference clauses, chains (``subject.name=x``) and reverse chains (``_has``).

A chain is a membership test on the reference rows whose *target* is among the
resources matching the chained criteria; ``_has`` the other way round. Every
level is an uncorrelated subquery, so the innermost (usually most selective)
criteria are evaluated once and drive the lookups outwards.
"""

from __future__ import annotations

from typing import Any

from polyfhir_primary.adapters.sql.search.fragments import (
    Builder,
    Sql,
    any_of,
    exists,
    type_filter,
)
from polyfhir_primary.domain.search_plan import (
    CompartmentClause,
    Criteria,
    HasClause,
    ReferenceClause,
    ReferenceMatch,
)


def _match(x: str, m: ReferenceMatch) -> Sql:
    if m.url is not None:
        return f"{x}.url = ?", [m.url]
    parts, args = [f"{x}.target_id = ?"], [m.target_id]
    if m.target_type is not None:
        parts.append(f"{x}.target_type = ?")
        args.append(m.target_type)
    return "(" + " AND ".join(parts) + ")", args


def matching_resources(b: Builder, criteria: Criteria, t: str) -> tuple[str, Sql]:
    """``(from, (where, args))`` of the live resources ``t`` that satisfy ``criteria``."""
    sql, args = b.criteria(criteria, t)
    where = f"{t}.tenant = ? AND {t}.deleted = ? AND {sql}"
    return f"resources {t}", (where, [b.tenant, b.dialect.flag(False), *args])


def reference_sql(b: Builder, c: ReferenceClause, alias: str) -> Sql:
    x = b.alias("r")
    where: list[str] = []
    args: list[Any] = []
    types_sql, types_args = type_filter(f"{x}.target_type", c.target_types or None)
    if types_sql:
        where.append(types_sql.removeprefix(" AND "))
        args += types_args
    if c.matches:
        sql, a = any_of([_match(x, m) for m in c.matches])
        where.append(sql)
        args += a
    if c.chain is not None:
        t = b.alias("c")
        source, inner = matching_resources(b, c.chain, t)
        types = c.chain.resource_types
        if types is not None and len(types) == 1:
            target = f"{x}.target_type = ? AND {x}.target_id IN (SELECT {t}.res_id FROM {source}"
            args.append(types[0])
        else:
            target = (
                f"({x}.target_type, {x}.target_id) IN"
                f" (SELECT {t}.res_type, {t}.res_id FROM {source}"
            )
        where.append(f"{target} WHERE {inner[0]})")
        args += inner[1]
    return exists(b, "idx_reference", x, alias, c.param, (" AND ".join(where or ["1 = 1"]), args))


def has_sql(b: Builder, c: HasClause, alias: str) -> Sql:
    x, s = b.alias("h"), b.alias("hs")
    source, inner = matching_resources(b, c.criteria, s)
    types = b.types_of(alias)
    type_sql, type_args = type_filter(f"{x}.target_type", types)
    where = (
        f"{x}.tenant = ? AND {x}.res_type = ? AND {x}.param = ?{type_sql}"
        f" AND {x}.res_id IN (SELECT {s}.res_id FROM {source} WHERE {inner[0]})"
    )
    args = [b.tenant, c.source_type, c.param, *type_args, *inner[1]]
    if b.probe:
        owner = f"{x}.target_type = {alias}.res_type AND {x}.target_id = {alias}.res_id"
        return f"EXISTS (SELECT 1 FROM idx_reference {x} WHERE {owner} AND {where})", args
    if types is not None and len(types) == 1:
        lhs, cols = f"{alias}.res_id", f"{x}.target_id"
    else:
        lhs, cols = f"({alias}.res_type, {alias}.res_id)", f"{x}.target_type, {x}.target_id"
    return f"{lhs} IN (SELECT {cols} FROM idx_reference {x} WHERE {where})", args


def compartment_sql(b: Builder, c: CompartmentClause, alias: str) -> Sql:
    x = b.alias("k")
    parts: list[Sql] = []
    if c.params:
        cond = (f"{x}.target_type = ? AND {x}.target_id = ?", [c.target_type, c.target_id])
        parts.append(exists(b, "idx_reference", x, alias, c.params, cond))
    if c.include_self:
        parts.append(
            (f"({alias}.res_type = ? AND {alias}.res_id = ?)", [c.target_type, c.target_id])
        )
    return any_of(parts)
