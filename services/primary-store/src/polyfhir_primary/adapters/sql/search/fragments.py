"""Small helpers shared by the clause modules."""

from __future__ import annotations

from typing import Any, Protocol

from polyfhir_primary.adapters.sql.dialect import Dialect

Sql = tuple[str, list[Any]]
PREFIX_END = "\U0010ffff"  # sorts after every other character (UTF-8 bytes / "C" collation)


class Builder(Protocol):
    dialect: Dialect

    def alias(self, stem: str) -> str: ...

    def criteria(self, criteria: Any, alias: str) -> Sql: ...


def owner(index_alias: str, resource_alias: str) -> str:
    """The index row belongs to the resource row."""
    x, r = index_alias, resource_alias
    return f"{x}.tenant = {r}.tenant AND {x}.res_type = {r}.res_type AND {x}.res_id = {r}.res_id"


def any_of(parts: list[Sql]) -> Sql:
    if not parts:
        return "1 = 0", []
    return "(" + " OR ".join(p[0] for p in parts) + ")", [a for p in parts for a in p[1]]


def exists(table: str, x: str, alias: str, param: str, condition: Sql, negate: bool = False) -> Sql:
    sql = (
        f"EXISTS (SELECT 1 FROM {table} {x}"
        f" WHERE {owner(x, alias)} AND {x}.param = ? AND {condition[0]})"
    )
    return (f"NOT {sql}" if negate else sql), [param, *condition[1]]


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def starts_with(column: str, prefix: str) -> Sql:
    """Index-friendly prefix match (a range, not LIKE)."""
    return f"({column} >= ? AND {column} < ?)", [prefix, prefix + PREFIX_END]
