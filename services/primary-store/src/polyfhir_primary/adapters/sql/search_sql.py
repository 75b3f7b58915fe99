"""Turn a :class:`SearchPlan` into SQL over the resources and index tables.

Dialect-neutral: ``?`` placeholders, standard SQL; timestamps are encoded by
the dialect so text (SQLite) and TIMESTAMPTZ (PostgreSQL) compare the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from polyfhir_core.search.dates import DateRange
from polyfhir_primary.adapters.sql.dialect import Dialect
from polyfhir_primary.domain.search_plan import (
    ANY,
    Clause,
    DateClause,
    IdClause,
    SearchPlan,
    TokenClause,
    TokenMatch,
)

RESOURCE_COLUMNS = "r.res_type, r.res_id, r.version, r.last_updated, r.deleted, r.content"
_OWNER = "x.tenant = r.tenant AND x.res_type = r.res_type AND x.res_id = r.res_id"


@dataclass(slots=True)
class Fragment:
    sql: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def add(self, sql: str, *args: Any) -> None:
        self.sql.append(sql)
        self.args.extend(args)


def date_condition(
    prefix: str, low: str, high: str, rng: DateRange, d: Dialect
) -> tuple[str, list[Any]]:
    """search.html prefix semantics between the resource range [low, high] and ``rng``."""
    pl, ph = d.ts(rng.low), d.ts(rng.high)
    contained = f"({low} >= ? AND {high} <= ?)"
    conditions: dict[str, tuple[str, list[Any]]] = {
        "eq": (contained, [pl, ph]),
        "ne": (f"NOT {contained}", [pl, ph]),
        "gt": (f"{high} > ?", [ph]),
        "lt": (f"{low} < ?", [pl]),
        "ge": (f"({high} > ? OR {contained})", [ph, pl, ph]),
        "le": (f"({low} < ? OR {contained})", [pl, pl, ph]),
        "sa": (f"{low} > ?", [ph]),
        "eb": (f"{high} < ?", [pl]),
        "ap": (f"({low} <= ? AND {high} >= ?)", [ph, pl]),
    }
    return conditions[prefix]


def _token_match(m: TokenMatch) -> tuple[str, list[Any]]:
    parts: list[str] = []
    args: list[Any] = []
    if m.code is not None:
        parts.append("x.code = ?")
        args.append(m.code)
    if m.system is None:
        parts.append("x.system IS NULL")
    elif m.system != ANY:
        parts.append("x.system = ?")
        args.append(m.system)
    return "(" + " AND ".join(parts or ["1 = 1"]) + ")", args


def _clause(clause: Clause, d: Dialect) -> tuple[str, list[Any]]:
    if isinstance(clause, IdClause):
        marks = ", ".join("?" for _ in clause.ids)
        op = "NOT IN" if clause.negate else "IN"
        return f"r.res_id {op} ({marks})", list(clause.ids)
    if isinstance(clause, DateClause):
        return _date_clause(clause, d)
    return _token_clause(clause)


def _date_clause(clause: DateClause, d: Dialect) -> tuple[str, list[Any]]:
    ors: list[str] = []
    args: list[Any] = []
    for prefix, rng in clause.ranges:
        if clause.param is None:
            sql, a = date_condition(prefix, "r.last_updated", "r.last_updated", rng, d)
        else:
            sql, a = date_condition(prefix, "x.low", "x.high", rng, d)
        ors.append(sql)
        args.extend(a)
    body = "(" + " OR ".join(ors) + ")"
    if clause.param is None:
        return body, args
    return (
        f"EXISTS (SELECT 1 FROM idx_date x WHERE {_OWNER} AND x.param = ? AND {body})",
        [clause.param, *args],
    )


def _token_clause(clause: TokenClause) -> tuple[str, list[Any]]:
    ors: list[str] = []
    args: list[Any] = [clause.param]
    for m in clause.matches:
        sql, a = _token_match(m)
        ors.append(sql)
        args.extend(a)
    exists = (
        f"EXISTS (SELECT 1 FROM idx_token x WHERE {_OWNER}"
        f" AND x.param = ? AND ({' OR '.join(ors)}))"
    )
    return (f"NOT {exists}" if clause.negate else exists), args


def where_clause(tenant: str, plan: SearchPlan, d: Dialect) -> Fragment:
    frag = Fragment()
    frag.add("r.tenant = ?", tenant)
    frag.add("r.deleted = ?", d.flag(False))
    if plan.resource_types is not None:
        marks = ", ".join("?" for _ in plan.resource_types)
        frag.add(f"r.res_type IN ({marks})", *plan.resource_types)
    for clause in plan.clauses:
        sql, args = _clause(clause, d)
        frag.add(sql, *args)
    return frag


def search_statements(
    tenant: str, plan: SearchPlan, d: Dialect
) -> tuple[str, list[Any], str | None]:
    """``(select_sql, args, count_sql or None)``; count uses the same args minus paging."""
    frag = where_clause(tenant, plan, d)
    where = " AND ".join(frag.sql)
    order = ", ".join(f"r.{s.column}{' DESC' if s.descending else ''}" for s in plan.sort)
    select = (
        f"SELECT {RESOURCE_COLUMNS} FROM resources r WHERE {where}"
        f" ORDER BY {order} LIMIT ? OFFSET ?"
    )
    count = f"SELECT COUNT(*) FROM resources r WHERE {where}" if plan.count_total else None
    return select, [*frag.args, plan.limit, plan.offset], count
