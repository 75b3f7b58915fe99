"""Clauses that are plain memberships of index rows, and the ids they match.

Index rows and full-text documents exist for live resources only (a delete
clears them, see ``session.save``), so where every clause of a search is such a
membership its matches can be found from index rows alone, without a
``resources`` row per candidate (``membership_ids``; docs/search.md).
"""

from __future__ import annotations

from polyfhir_primary.search.plan import (
    Clause,
    Criteria,
    DateClause,
    FullTextClause,
    NumberClause,
    ReferenceClause,
    StringClause,
    TokenClause,
    UriClause,
)
from polyfhir_primary.search.sql.fragments import Builder, Sql

# Clauses that are a plain membership of index rows (``t.res_id IN (SELECT x.res_id
# FROM idx_… x …)``). Index rows and documents exist for live resources only (a
# delete clears them, see ``session.save``), so the rows alone say which resources match.
_MEMBERSHIPS = (
    TokenClause,
    StringClause,
    UriClause,
    NumberClause,
    DateClause,
    ReferenceClause,
    FullTextClause,
)


def is_membership(c: Clause) -> bool:
    """Whether ``c`` is a plain membership of index rows (see ``_MEMBERSHIPS``)."""
    if isinstance(c, TokenClause) and c.negate:
        return False
    if isinstance(c, DateClause) and c.param is None:  # _lastUpdated: a resources column
        return False
    return isinstance(c, _MEMBERSHIPS)


def index_select(b: Builder, types: tuple[str, ...] | None, c: Clause, t: str) -> Sql | None:
    """The subquery of a membership clause ``c`` on resources of ``types``:
    ``SELECT x.res_id …`` for one type, ``SELECT x.res_type, x.res_id …`` otherwise,
    as ``member_of`` writes it (``t.res_id IN (S)``); None for any other clause."""
    if not is_membership(c):
        return None
    sql, args = b.sole_clause(Criteria(types, (c,)), t)
    lhs = f"{t}.res_id" if types is not None and len(types) == 1 else f"({t}.res_type, {t}.res_id)"
    head = f"{lhs} IN ("
    if not (sql.startswith(head) and sql.endswith(")")):
        return None
    inner = sql[len(head) : -1]
    return (inner, args) if inner.count("(") == inner.count(")") else None


def index_rows_counted(b: Builder, types: tuple[str, ...], c: Clause, cap: int) -> Sql | None:
    """``COUNT(*)`` of the index rows of membership clause ``c``, stopping after ``cap``
    (an index-only read: how broad a clause is, not how many resources it matches)."""
    rows = index_select(b, types, c, "d")
    if rows is None:
        return None
    return f"SELECT COUNT(*) FROM ({rows[0]} LIMIT {cap}) d", rows[1]


def membership_ids(b: Builder, criteria: Criteria, t: str) -> Sql | None:
    """``SELECT DISTINCT res_id`` of the live resources (one type) that satisfy
    ``criteria``, from index rows alone, when every clause is a membership: the
    driving clause's rows (``Builder.driver``), tested for the others in the
    dialect's form (``Builder.tests``: PostgreSQL's planner turns memberships into
    semi-joins and picks the order; SQLite materialises every ``IN`` list, so there
    each candidate is probed)."""
    types = criteria.resource_types
    if types is None or len(types) != 1 or not criteria.clauses:
        return None
    if not all(is_membership(c) for c in criteria.clauses):
        return None
    driver = b.driver(criteria.clauses)
    rows = index_select(b, types, criteria.clauses[driver], t)
    if rows is None:
        return None
    others = tuple(c for n, c in enumerate(criteria.clauses) if n != driver)
    tests, tests_args = b.tests(Criteria(types, others), "m")
    return (
        f"SELECT DISTINCT m.res_id FROM (SELECT x.res_id, ? AS res_type FROM ({rows[0]}) x) m"
        f" WHERE {tests}",
        [types[0], *rows[1], *tests_args],
    )
