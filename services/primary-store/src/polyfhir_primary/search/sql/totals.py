"""``_total=estimate``: count exactly up to a cap, estimate beyond it.

An accurate total of a broad search visits every matching row, which on a
large tenant costs far more than the page itself. With ``_total=estimate``
the store counts at most ``ESTIMATE_CAP + 1`` rows (cheap: the count stops
there; for the first pages the count comes with the page, see
``statements.SearchStatements.small``). Up to the cap the number is exact; above
it PostgreSQL reports its planner's row estimate for the search (never less
than the cap + 1),
and SQLite, which has no such estimate, reports ``ESTIMATE_CAP + 1`` — "more
than the cap". ``_total=none`` skips counting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyfhir_primary.adapters.sql.dialect import Conn, Dialect
from polyfhir_primary.search.plan import SearchPlan
from polyfhir_primary.search.sql.fragments import Sql
from polyfhir_primary.search.sql.page import PageOrder
from polyfhir_primary.search.sql.schema import PAGE_COLUMNS

ESTIMATE_CAP = 100
CHAIN_CAP = 10 * ESTIMATE_CAP  # a chain's matches are collected in full anyway


def capped_count_sql(where: str) -> str:
    capped = f"SELECT 1 FROM resources r WHERE {where} LIMIT {ESTIMATE_CAP + 1}"
    return f"SELECT COUNT(*) FROM ({capped}) capped"


def small_statement(
    plan: SearchPlan,
    order: PageOrder,
    where: Sql,
    cap: int,
    ids: Sql | None,
    d: Dialect,
    tenant: str,
) -> Sql:
    """``SearchStatements.small``: at most ``cap + 1`` matches (in any order) of the
    resources ``r`` that satisfy ``where``, counted in column ``n`` and the page of
    them in order; with ``ids`` (a chain's matches from index rows) a resources row
    is read for those ids only."""
    capped = f"{order.keyed} resources r WHERE {where[0]} LIMIT {cap + 1}"
    capped_args = [*order.key_args, *where[1]]
    if ids is not None:
        capped = (
            f"{order.keyed} resources r WHERE r.tenant = ? AND r.deleted = ? AND r.res_type = ?"
            f" AND r.res_id IN ({ids[0]} LIMIT {cap + 1})"
        )
        types = plan.criteria.resource_types or ()
        capped_args = [*order.key_args, tenant, d.flag(False), *types, *ids[1]]
    return (
        f"SELECT {PAGE_COLUMNS}, page.n FROM (SELECT m.*, COUNT(*) OVER () AS n FROM"
        f" ({capped}) m ORDER BY {order.inner} LIMIT ? OFFSET ?) page{order.join}",
        [*capped_args, plan.limit, plan.offset],
    )


def count_statement(
    plan: SearchPlan, where: Sql, matched_ids: Sql | None, d: Dialect
) -> Sql | None:
    """``SearchStatements.count``: the matches counted from index rows (where the
    dialect counts that way and they are all memberships), capped for
    ``_total=estimate``; else from ``resources``."""
    counting = plan.count_total or plan.estimate_total
    if d.counts_from_index_rows and matched_ids is not None:  # no resources row per match
        cap = f" LIMIT {ESTIMATE_CAP + 1}" if plan.estimate_total else ""
        return (
            (f"SELECT COUNT(*) FROM ({matched_ids[0]}{cap}) c", matched_ids[1])
            if counting
            else None
        )
    if plan.estimate_total:
        return capped_count_sql(where[0]), where[1]
    if plan.count_total:
        return f"SELECT COUNT(*) FROM resources r WHERE {where[0]}", where[1]
    return None


async def estimate_beyond_cap(
    conn: Conn, d: Dialect, where: str, args: Sequence[Any], counted: int = ESTIMATE_CAP
) -> int:
    """The planner's row estimate for the search (PostgreSQL), above the ``counted``
    matches known to exist."""
    floor = counted + 1
    estimate = await d.planner_estimate(conn, f"SELECT 1 FROM resources r WHERE {where}", args)
    return floor if estimate is None else max(floor, estimate)
