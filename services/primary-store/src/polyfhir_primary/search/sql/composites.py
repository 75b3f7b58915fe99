"""Composite clauses: every component matches in the rows of one element.

``code-value-quantity=http://loinc.org|8480-6$gt100`` becomes a join of the
component rows (``<param>$0`` in idx_token, ``<param>$1`` in idx_quantity)
that share owner and ``elem``, so a systolic code and a diastolic value from
two different components of one Observation do not match together. A
composite of the resource itself (``root``) needs no ``elem``, and reads a
component from another parameter's rows where they are the same
(``code-value-quantity$0`` is ``code``; ``polyfhir_core.indexing.composite_params.component_rows``).
"""

from __future__ import annotations

from typing import Any

from polyfhir_primary.search.plan import (
    ComponentClause,
    CompositeClause,
    DateClause,
    NumberClause,
    StringClause,
    TokenClause,
)
from polyfhir_primary.search.sql.fragments import (
    Builder,
    Sql,
    any_of,
    member_of,
    starts_with,
    type_filter,
)
from polyfhir_primary.search.sql.numbers import number_condition
from polyfhir_primary.search.sql.scalar import date_condition, token_match_sql
from polyfhir_primary.search.sql.schema import INDEX_TABLES


def _condition(b: Builder, part: ComponentClause, x: str) -> Sql:
    if isinstance(part, TokenClause):
        return any_of([token_match_sql(x, m) for m in part.matches])
    if isinstance(part, NumberClause):
        return number_condition(x, part)
    if isinstance(part, DateClause):
        return any_of(
            [date_condition(p, f"{x}.low", f"{x}.high", r, b.dialect) for p, r in part.ranges]
        )
    assert isinstance(part, StringClause)
    return any_of([starts_with(f"{x}.value", v) for v in part.values])


def _alternative(
    b: Builder, c: CompositeClause, parts: tuple[ComponentClause, ...], alias: str
) -> Sql:
    xs = [b.alias("q") for _ in parts]
    first = xs[0]
    joins: list[str] = []
    join_args: list[Any] = []
    types = b.types_of(alias)
    type_sql, type_args = type_filter(f"{first}.res_type", types)
    where = [f"{first}.tenant = ?{type_sql} AND {first}.param = ?"]
    where_args: list[Any] = [b.tenant, *type_args, parts[0].param]
    tables = [INDEX_TABLES[kind] for kind in c.kinds]
    for x, table, part in zip(xs, tables, parts, strict=True):
        if x != first:
            joins.append(
                f" JOIN {table} {x} ON {x}.tenant = {first}.tenant"
                f" AND {x}.res_type = {first}.res_type AND {x}.res_id = {first}.res_id"
                f"{'' if c.root else f' AND {x}.elem = {first}.elem'} AND {x}.param = ?"
            )
            join_args.append(part.param)
        sql, args = _condition(b, part, x)
        where.append(sql)
        where_args += args
    source = f"{tables[0]} {first}{''.join(joins)}"
    condition = (" AND ".join(where), [*join_args, *where_args])
    return member_of(types, alias, first, source, condition, False, b.probe)


def composite_sql(b: Builder, c: CompositeClause, alias: str) -> Sql:
    return any_of([_alternative(b, c, parts, alias) for parts in c.alternatives])
