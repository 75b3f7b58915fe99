"""The statements one search may run, built from its plan (``session.search`` picks).

``page`` (``page.py``) is the general one; ``small`` and ``count``
(``totals.py``) answer the total; ``walk`` (``walk.py``) the first full-text
page; the ids of the matches from index rows alone (``memberships.py``) feed
the page, a chain's count and SQLite's counts where every clause is a
membership. Which of them a dialect builds is a property of its ``Dialect``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from polyfhir_primary.adapters.sql.dialect import Dialect
from polyfhir_primary.search.plan import (
    DEFAULT_SORT,
    Clause,
    ReferenceClause,
    SearchPlan,
    TokenClause,
)
from polyfhir_primary.search.sql.builder import SqlBuilder
from polyfhir_primary.search.sql.fragments import Sql
from polyfhir_primary.search.sql.has_walk import source_rows, walk_has, walked_has
from polyfhir_primary.search.sql.memberships import index_rows_counted, membership_ids
from polyfhir_primary.search.sql.page import (
    PageOrder,
    counted_index_page,
    index_page,
    page_order,
)
from polyfhir_primary.search.sql.totals import (
    CHAIN_CAP,
    ESTIMATE_CAP,
    count_statement,
    small_statement,
)
from polyfhir_primary.search.sql.walk import fulltext_walks


@dataclass(frozen=True, slots=True)
class SearchStatements:
    """The statements one search may run (``session.search`` picks among them).

    ``page``: the page in order. The page is found first, from keys and sort
    values only, and the rows' content is read for the page alone: a search that
    visits thousands of matches then reads thousands of index entries rather
    than thousands of resource bodies (PostgreSQL answers it from indexes,
    migration 0006).

    ``small``: the page *and* the number of matches in one pass, when there are
    at most ``ESTIMATE_CAP``: it stops after ``ESTIMATE_CAP + 1`` matches, in
    any order, and counts and orders just those (a window count on the last
    column). A search that must visit every match anyway (a chain's candidates,
    a rare code) then does so once, not once for the page and once for the
    total. Built when a total is asked for and the page lies within the cap.
    With a chain, when every clause is a membership of index rows, the matches
    are found from those rows alone and ``resources`` is read for them only (a
    chain's 544 candidate Observations are tested against the code before any
    is read: at 1M resources 8.3 -> 5.2 ms). Only with a chain: the distinct
    ids are collected in full before the limit applies, which a chain's
    candidates are anyway, but a common word's 21,000 documents are not. As
    they are collected anyway, such a statement takes up to ``CHAIN_CAP``
    matches (reading a resources row for each), so that a chain with a few
    hundred matches is answered, and counted exactly, in one pass rather than
    two (a 2-level chain at 1M: 20 -> 11 ms). In the default order the chain's
    matches are counted and paged from the index rows alone, and ``resources``
    is read for the page only (a 2-level chain's 110 matches: 6.9 -> 5.9 ms).
    SQLite counts every search from those ids too (``count``; it probes each
    candidate, see ``memberships.membership_ids``).

    ``walk``: the first page by reading the type's full-text documents in the
    default order (``walk.py``; PostgreSQL, full text, one type). When the walk
    comes up short the word is rarer, and ``counted_page`` finds the page and
    the exact number of matches from the index rows in one pass (a word in 2 %
    of 62,160 Conditions: small + page + estimate 17 -> 4 ms).

    ``page`` in the default order with one type and only memberships of index
    rows: the ids of the page from those rows alone (``membership_ids``), and
    ``resources`` read for the page only (where the dialect pages that way).

    ``count``: every match counted (``accurate``), or counted up to the cap
    (``estimate``, for pages beyond the cap; ``estimate_where`` is the filter the
    planner's estimate is asked for beyond it).

    A chain's ``small`` follows what the search will visit. With ``_total=accurate``
    every match is visited for the count anyway, so ``small`` is the page and the
    exact count in one pass over all of them (``small_cap`` ``UNCAPPED``), never a
    ``CHAIN_CAP`` pass followed by the page and the count. With ``_total=estimate``
    and another clause driving (a code; the chain probes its rows), ``driver_rows``
    first counts that clause's index rows up to ``CHAIN_CAP + 1`` (an index-only
    read, no probe): within ``CHAIN_CAP`` the chain has at most that many matches
    and the ``CHAIN_CAP`` pass answers exactly, as before; beyond it the search
    runs ``broad_small``, which stops at the first ``ESTIMATE_CAP + 1`` matches in
    id order (the estimate needs no more; they hold the page, read as the page
    statement reads it: the driver's rows in id order, each probed). At 1M
    resources ``patient.gender=female&code=X``, X on 22,200 Observations, probed
    2,070 of them to collect 1,001 matches.

    ``_has`` alone (``has_walk.py``): ``driver_rows`` counts the source clause's
    index rows the same way; beyond ``CHAIN_CAP`` ``broad_small`` walks the targets
    in id order, probing each, up to ``ESTIMATE_CAP + 1`` matches. In both cases
    they are the first matches in order (``broad_in_order``): when there are more,
    the page is still among them and no page statement follows.
    """

    page: Sql
    small: Sql | None
    small_cap: int  # ``small`` is the answer when it counts at most this many matches
    small_in_order: bool  # ``small`` takes the first matches in order
    driver_rows: Sql | None
    broad_small: Sql | None  # ``small`` when ``driver_rows`` counts more than ``CHAIN_CAP``
    broad_in_order: bool  # ``broad_small`` takes the first matches in order
    walk: Sql | None
    walk_count: Sql | None
    counted_page: Sql | None
    count: Sql | None
    estimate_where: Sql | None

    def small_for(self, driver_rows: int | None) -> Small:
        """The ``small`` statement to run for a driving clause of ``driver_rows``
        index rows (as ``driver_rows`` counts them: up to ``CHAIN_CAP + 1``)."""
        if driver_rows is not None and driver_rows > CHAIN_CAP:
            return Small(self.broad_small, ESTIMATE_CAP, self.broad_in_order)
        return Small(self.small, self.small_cap, self.small_in_order)


class Small(NamedTuple):
    sql: Sql | None
    cap: int  # the answer when it counts at most this many matches
    in_order: bool  # its matches are the first in order: beyond ``cap`` its page stands


UNCAPPED = 2**63 - 1  # ``small_cap`` of a ``small`` that counts every match


@dataclass(frozen=True, slots=True)
class _FromIndexRows:
    """The statements that read a default-order search's ids from index rows."""

    page: Sql | None = None
    counted_page: Sql | None = None
    small: Sql | None = None
    small_cap: int = ESTIMATE_CAP
    small_in_order: bool = False
    broad_small: Sql | None = None  # a chain's ``small`` when its driver is broad


def _from_index_rows(
    plan: SearchPlan, d: Dialect, tenant: str, matched_ids: Sql | None, chained: bool, walked: bool
) -> _FromIndexRows:
    types = plan.criteria.resource_types
    if matched_ids is None or plan.sort != DEFAULT_SORT or types is None:
        return _FromIndexRows()
    counting = plan.count_total or plan.estimate_total
    tail = [plan.limit, plan.offset, tenant, types[0], d.flag(False)]
    page = index_page(matched_ids, tail) if d.pages_from_index_rows else None
    counted_page = counted_index_page(matched_ids, "", tail) if counting and walked else None
    indexed = _FromIndexRows(page, counted_page)
    if not counting or plan.limit <= 0 or not (chained or _one_word(plan)):
        return indexed
    if not plan.estimate_total:  # accurate: every match is visited anyway, once
        return replace(indexed, small=counted_index_page(matched_ids, "", tail), small_cap=UNCAPPED)
    # the first matches in id order, and so the page: a chain's when its driver is
    # broad; a word's always (its rows are a range of words, collected in full anyway)
    first = f" ORDER BY m.res_id LIMIT {ESTIMATE_CAP + 1}"
    in_order = counted_index_page(matched_ids, first, tail)
    within = plan.offset + plan.limit <= ESTIMATE_CAP
    if not chained:
        return replace(indexed, small=in_order, small_in_order=True) if within else indexed
    if plan.offset + plan.limit > CHAIN_CAP:
        return indexed
    small = counted_index_page(matched_ids, f" LIMIT {CHAIN_CAP + 1}", tail)
    return replace(
        indexed, small=small, small_cap=CHAIN_CAP, broad_small=in_order if within else None
    )


def _one_word(plan: SearchPlan) -> bool:
    """The search is one ``:text`` word on a token (a membership of ``idx_token_word``)."""
    clauses = plan.criteria.clauses
    return len(clauses) == 1 and isinstance(clauses[0], TokenClause) and clauses[0].text


def _driver_rows(builder: SqlBuilder, plan: SearchPlan) -> Sql | None:
    """The index rows of the clause that drives a chained search, counted up to
    ``CHAIN_CAP + 1``, when that clause is not itself a chain (``broad_small``)."""
    criteria = plan.criteria
    types = criteria.resource_types
    if types is None or len(types) != 1 or len(criteria.clauses) < 2:
        return None
    driver = builder.driver(criteria.clauses)
    if _chain(criteria.clauses[driver]):
        return None
    return index_rows_counted(builder, types, criteria.clauses[driver], CHAIN_CAP + 1)


def _broad(
    builder: SqlBuilder, plan: SearchPlan, order: PageOrder, indexed: _FromIndexRows
) -> tuple[Sql | None, Sql | None, bool]:
    """``driver_rows``, ``broad_small`` and ``broad_in_order``, or none of them."""
    has = walked_has(plan)
    if has is not None:
        rows = source_rows(builder, has)
        return (rows, walk_has(builder, plan, order), True) if rows else (None, None, False)
    rows = _driver_rows(builder, plan) if indexed.broad_small is not None else None
    return (rows, indexed.broad_small, True) if rows else (None, None, False)


def _chain(c: Clause) -> bool:
    return isinstance(c, ReferenceClause) and c.chain is not None


def _chained(plan: SearchPlan) -> bool:
    return any(_chain(c) for c in plan.criteria.clauses)


def search_statements(tenant: str, plan: SearchPlan, d: Dialect) -> SearchStatements:
    builder = SqlBuilder(d, tenant)
    body, body_args = builder.criteria(plan.criteria, "r")
    where: Sql = (f"r.tenant = ? AND r.deleted = ? AND {body}", [tenant, d.flag(False), *body_args])
    order = page_order(plan.sort)
    counting = plan.count_total or plan.estimate_total
    chained = _chained(plan)
    # the matches from index rows alone, where a statement below reads them: the page
    # in the default order, a chain's count, the count where the dialect counts so
    wanted = plan.sort == DEFAULT_SORT or (counting and (chained or d.counts_from_index_rows))
    matched_ids = membership_ids(builder, plan.criteria, "r") if wanted else None
    walk, walk_count = fulltext_walks(builder, plan, order)
    indexed = _from_index_rows(plan, d, tenant, matched_ids, chained, walk is not None)
    page = indexed.page or order.page(where[0], where[1], plan.limit, plan.offset)
    small, small_cap = indexed.small, indexed.small_cap
    ids = matched_ids if chained and counting and small is None else None
    if ids is not None:
        small_cap = CHAIN_CAP
    if small is None and counting and plan.limit > 0 and plan.offset + plan.limit <= small_cap:
        small = small_statement(plan, order, where, small_cap, ids, d, tenant)
    driver_rows, broad_small, broad_in_order = _broad(builder, plan, order, indexed)
    return SearchStatements(
        page=page,
        small=small,
        small_cap=small_cap,
        small_in_order=indexed.small_in_order,
        driver_rows=driver_rows,
        broad_small=broad_small,
        broad_in_order=broad_in_order,
        walk=walk,
        walk_count=walk_count,
        counted_page=indexed.counted_page,
        count=count_statement(plan, where, matched_ids, d),
        estimate_where=where if plan.estimate_total else None,
    )
