"""Small helpers shared by the clause modules.

Every clause is an *uncorrelated* membership test: ``r.res_id IN (SELECT
x.res_id FROM idx_… x WHERE x.tenant = ? AND x.res_type = ? AND x.param = ?
AND …)``. The subquery needs nothing from the outer row, so the engine can run
it once from the index table's own composite index and use the result to drive
(or filter) the outer rows; with several clauses the most selective one drives.
A correlated ``EXISTS`` instead was evaluated once per candidate row, and grew
linearly with the number of resources of the searched type.
"""

from __future__ import annotations

from typing import Any, Protocol

from polyfhir_primary.adapters.sql.dialect import Dialect

Sql = tuple[str, list[Any]]
PREFIX_END = "\U0010ffff"  # sorts after every other character (UTF-8 bytes / "C" collation)


class Builder(Protocol):
    dialect: Dialect
    tenant: str
    probe: bool  # build the clause being built as a correlated probe (see ``member_of``)

    def alias(self, stem: str) -> str: ...

    def criteria(self, criteria: Any, alias: str) -> Sql: ...

    def sole_clause(self, criteria: Any, alias: str) -> Sql: ...

    def tests(self, criteria: Any, alias: str) -> Sql: ...

    def driver(self, clauses: Any) -> int: ...

    def types_of(self, alias: str) -> tuple[str, ...] | None: ...


def type_filter(column: str, types: tuple[str, ...] | None) -> Sql:
    if types is None:
        return "", []
    if len(types) == 1:
        return f" AND {column} = ?", [types[0]]
    return f" AND {column} IN ({', '.join('?' for _ in types)})", list(types)


def member_of(
    types: tuple[str, ...] | None,
    alias: str,
    x: str,
    select_from: str,
    where: Sql,
    negate: bool,
    probe: bool = False,
) -> Sql:
    """``alias`` (a resource row of ``types``) is [not] among the rows the subquery yields.

    With one known type the test is on ``res_id`` alone (the outer query already
    fixes the type), which every engine turns into an index lookup; otherwise on
    the ``(res_type, res_id)`` pair. With ``probe`` it is a correlated
    ``EXISTS`` on the owner index instead: SQLite materialises every ``IN``
    subquery in full, so only the most selective clause drives there and the
    others probe the rows it found (``SqlBuilder.criteria``).
    """
    if probe:
        owner = f"{x}.res_type = {alias}.res_type AND {x}.res_id = {alias}.res_id"
        sql = f"EXISTS (SELECT 1 FROM {select_from} WHERE {owner} AND {where[0]})"
        return (f"NOT {sql}" if negate else sql), where[1]
    if types is not None and len(types) == 1:
        lhs, cols = f"{alias}.res_id", f"{x}.res_id"
    else:
        lhs, cols = f"({alias}.res_type, {alias}.res_id)", f"{x}.res_type, {x}.res_id"
    op = "NOT IN" if negate else "IN"
    return f"{lhs} {op} (SELECT {cols} FROM {select_from} WHERE {where[0]})", where[1]


def exists(
    b: Builder,
    table: str,
    x: str,
    alias: str,
    param: str | tuple[str, ...],
    condition: Sql,
    negate: bool = False,
    source: Sql | None = None,
) -> Sql:
    """``alias`` has [no] index row of ``param`` in ``table`` satisfying ``condition``;
    ``source``: a table the index rows are joined to (``<source> CROSS JOIN table x``,
    the source driving; ``condition`` names it)."""
    types = b.types_of(alias)
    type_sql, type_args = type_filter(f"{x}.res_type", types)
    if isinstance(param, str):
        param_sql, param_args = f"{x}.param = ?", [param]
    else:
        param_sql, param_args = f"{x}.param IN ({', '.join('?' for _ in param)})", list(param)
    where = f"{x}.tenant = ?{type_sql} AND {param_sql} AND {condition[0]}"
    args = [b.tenant, *type_args, *param_args, *condition[1]]
    if source is not None:  # its placeholders come first: FROM precedes WHERE
        select_from = f"{source[0]} CROSS JOIN {table} {x}"
        return member_of(types, alias, x, select_from, (where, [*source[1], *args]), negate)
    fence = b.dialect.probe_fence if b.probe else ""
    return member_of(types, alias, x, f"{table} {x}", (where + fence, args), negate, b.probe)


def any_of(parts: list[Sql]) -> Sql:
    if not parts:
        return "1 = 0", []
    return "(" + " OR ".join(p[0] for p in parts) + ")", [a for p in parts for a in p[1]]


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def starts_with(column: str, prefix: str) -> Sql:
    """Index-friendly prefix match (a range, not LIKE)."""
    return f"({column} >= ? AND {column} < ?)", [prefix, prefix + PREFIX_END]
