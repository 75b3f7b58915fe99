"""Reference clauses, chains (``subject.name=x``) and reverse chains (``_has``)."""

from __future__ import annotations

from typing import Any

from polyfhir_primary.adapters.sql.search.fragments import Builder, Sql, any_of, owner
from polyfhir_primary.domain.search_plan import (
    CompartmentClause,
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


def _types(column: str, types: tuple[str, ...]) -> Sql:
    if not types:
        return "1 = 1", []
    return f"{column} IN ({', '.join('?' for _ in types)})", list(types)


def reference_sql(b: Builder, c: ReferenceClause, alias: str) -> Sql:
    x = b.alias("r")
    where = [owner(x, alias), f"{x}.param = ?"]
    args: list[Any] = [c.param]
    types_sql, types_args = _types(f"{x}.target_type", c.target_types)
    where.append(types_sql)
    args += types_args
    if c.matches:
        sql, a = any_of([_match(x, m) for m in c.matches])
        where.append(sql)
        args += a
    join = ""
    if c.chain is not None:
        t = b.alias("c")
        join = (
            f" JOIN resources {t} ON {t}.tenant = {x}.tenant"
            f" AND {t}.res_type = {x}.target_type AND {t}.res_id = {x}.target_id"
        )
        where.append(f"{t}.deleted = ?")
        args.append(b.dialect.flag(False))
        sql, a = b.criteria(c.chain, t)
        where.append(sql)
        args += a
    return f"EXISTS (SELECT 1 FROM idx_reference {x}{join} WHERE {' AND '.join(where)})", args


def has_sql(b: Builder, c: HasClause, alias: str) -> Sql:
    x, s = b.alias("h"), b.alias("hs")
    sql, args = b.criteria(c.criteria, s)
    return (
        f"EXISTS (SELECT 1 FROM idx_reference {x} JOIN resources {s}"
        f" ON {s}.tenant = {x}.tenant AND {s}.res_type = {x}.res_type AND {s}.res_id = {x}.res_id"
        f" WHERE {x}.tenant = {alias}.tenant AND {x}.res_type = ? AND {x}.param = ?"
        f" AND {x}.target_type = {alias}.res_type AND {x}.target_id = {alias}.res_id"
        f" AND {s}.deleted = ? AND {sql})",
        [c.source_type, c.param, b.dialect.flag(False), *args],
    )


def compartment_sql(b: Builder, c: CompartmentClause, alias: str) -> Sql:
    x = b.alias("k")
    parts: list[Sql] = []
    if c.params:
        marks = ", ".join("?" for _ in c.params)
        parts.append(
            (
                f"EXISTS (SELECT 1 FROM idx_reference {x} WHERE {owner(x, alias)}"
                f" AND {x}.param IN ({marks}) AND {x}.target_type = ? AND {x}.target_id = ?)",
                [*c.params, c.target_type, c.target_id],
            )
        )
    if c.include_self:
        parts.append(
            (f"({alias}.res_type = ? AND {alias}.res_id = ?)", [c.target_type, c.target_id])
        )
    return any_of(parts)
