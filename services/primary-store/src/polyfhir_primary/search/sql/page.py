"""The page of a search: its order (sort keys), and the statements that find it.

The page is found first from keys and sort values only (a subquery with
``ORDER BY … LIMIT/OFFSET``), and resource bodies are read for the page's rows
alone. In the default order (type, id) a page can also come from index rows
alone (``memberships.membership_ids``), ``resources`` read for its rows only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyfhir_primary.search.plan import SortField
from polyfhir_primary.search.sql.fragments import Sql
from polyfhir_primary.search.sql.schema import (
    INDEX_TABLES,
    PAGE_COLUMNS,
    RESOURCE_FIELDS,
    SORT_COLUMNS,
)

# The resources rows of a page of ids found from index rows (one type), in id order.
RESOURCES_OF_PAGE = (
    " JOIN resources p ON p.tenant = ? AND p.res_type = ? AND p.res_id = page.res_id"
    " AND p.deleted = ? ORDER BY p.res_id"
)


@dataclass(frozen=True, slots=True)
class PageOrder:
    """The SQL of a search's order: ``keyed`` selects a matching row's keys and sort
    values (``k0``, ``k1``…) ``FROM`` the rows that follow it, ``inner`` orders those,
    ``join`` reads the resources of the page and orders them the same way."""

    keyed: str
    key_args: list[Any]
    inner: str
    join: str

    def page(self, where: str, args: list[Any], limit: int, offset: int) -> Sql:
        """The page of the resources ``r`` that satisfy ``where``."""
        return (
            f"SELECT {PAGE_COLUMNS} FROM ({self.keyed} resources r WHERE {where}"
            f" ORDER BY {self.inner} LIMIT ? OFFSET ?) page{self.join}",
            [*self.key_args, *args, limit, offset],
        )


def page_order(fields: tuple[SortField, ...]) -> PageOrder:
    keys, key_args = sort_keys(fields)
    values = ", ".join(f"{expr} AS k{n}" for n, (expr, _) in enumerate(keys))
    inner = ", ".join(f"k{n}{' DESC' if desc else ''}" for n, (_, desc) in enumerate(keys))
    outer = ", ".join(f"page.k{n}{' DESC' if desc else ''}" for n, (_, desc) in enumerate(keys))
    join = (
        " JOIN resources p ON p.tenant = page.tenant AND p.res_type = page.res_type"
        f" AND p.res_id = page.res_id ORDER BY {outer}"
    )
    keyed = f"SELECT r.tenant, r.res_type, r.res_id, {values} FROM"
    return PageOrder(keyed, key_args, inner, join)


def sort_keys(fields: tuple[SortField, ...]) -> tuple[list[tuple[str, bool]], list[Any]]:
    """``([(expression, descending), ...], args)``: the page's order, key by key."""
    keys: list[tuple[str, bool]] = []
    args: list[Any] = []
    for f in fields:
        if f.param is None or f.kind is None:
            keys.append((f"r.{RESOURCE_FIELDS[f.name]}", f.descending))
            continue
        agg = "MAX" if f.descending else "MIN"
        params = (f.param,) if isinstance(f.param, str) else f.param
        rows = f"o.param IN ({', '.join('?' for _ in params)})"
        rows_args: list[Any] = list(params)
        if f.target_type is not None:
            rows += " AND o.target_type = ?"
            rows_args.append(f.target_type)
        value = (
            f"(SELECT {agg}(o.{SORT_COLUMNS[f.kind]}) FROM {INDEX_TABLES[f.kind]} o"
            " WHERE o.tenant = r.tenant AND o.res_type = r.res_type AND o.res_id = r.res_id"
            f" AND {rows})"
        )
        keys += [(f"{value} IS NULL", False), (value, f.descending)]  # missing values last
        args += [*rows_args, *rows_args]
    return keys, args


def index_page(matched: Sql, tail: list[Any]) -> Sql:
    """The page of the ids ``matched`` (from index rows) in id order; ``tail``: limit,
    offset, then the tenant, type and live flag of ``RESOURCES_OF_PAGE``."""
    return (
        f"SELECT {PAGE_COLUMNS} FROM ({matched[0]} ORDER BY m.res_id LIMIT ? OFFSET ?)"
        f" page{RESOURCES_OF_PAGE}",
        [*matched[1], *tail],
    )


def counted_index_page(matched: Sql, cap: str, tail: list[Any]) -> Sql:
    """``index_page`` with the (``cap``-limited) number of ids in column ``n``."""
    return (
        f"SELECT {PAGE_COLUMNS}, page.n FROM (SELECT i.res_id, COUNT(*) OVER () AS n"
        f" FROM ({matched[0]}{cap}) i ORDER BY i.res_id LIMIT ? OFFSET ?) page{RESOURCES_OF_PAGE}",
        [*matched[1], *tail],
    )
