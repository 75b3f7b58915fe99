"""Number and quantity clauses (search.html: implicit precision ranges, prefixes)."""

from __future__ import annotations

from typing import Any

from polyfhir_primary.search.plan import NumberClause, NumberMatch
from polyfhir_primary.search.sql.fragments import Builder, Sql, any_of, exists


def _compare(x: str, m: NumberMatch) -> Sql:
    v, lo, hi = float(m.value), float(m.low), float(m.high)
    col = f"{x}.value"
    within = f"({col} >= ? AND {col} < ?)"
    approx = abs(v) * 0.1
    table: dict[str, Sql] = {
        "eq": (within, [lo, hi]),
        "ne": (f"NOT {within}", [lo, hi]),
        "gt": (f"{col} > ?", [v]),
        "lt": (f"{col} < ?", [v]),
        "ge": (f"{col} >= ?", [v]),
        "le": (f"{col} <= ?", [v]),
        "sa": (f"{x}.low >= ?", [hi]),
        "eb": (f"{x}.high <= ?", [lo]),
        "ap": (f"({col} >= ? AND {col} <= ?)", [v - approx, v + approx]),
    }
    return table[m.prefix]


def _units(x: str, m: NumberMatch) -> Sql:
    parts: list[str] = []
    args: list[Any] = []
    if m.system is not None:
        parts.append(f"{x}.system = ?")
        args.append(m.system)
    if m.code is not None:
        if m.system is not None:
            parts.append(f"{x}.code = ?")
            args.append(m.code)
        else:
            parts.append(f"({x}.code = ? OR {x}.unit = ?)")
            args.extend([m.code, m.code])
    return " AND ".join(parts), args


def number_condition(x: str, c: NumberClause) -> Sql:
    parts = []
    for m in c.matches:
        sql, args = _compare(x, m)
        units, unit_args = _units(x, m) if c.quantity else ("", [])
        parts.append((f"({sql} AND {units})" if units else sql, [*args, *unit_args]))
    return any_of(parts)


def number_sql(b: Builder, c: NumberClause, alias: str) -> Sql:
    x = b.alias("n")
    table = "idx_quantity" if c.quantity else "idx_number"
    return exists(b, table, x, alias, c.param, number_condition(x, c))
