"""``_has`` with many source rows: the targets walked in id order, each probed.

``Patient?_has:Observation:patient:code=X`` is a membership of the Patients that
X's Observations reference. How many there are spans two tables, and PostgreSQL
misjudges it (at 1M resources: 140 Patients expected, 22,200 found), so the
statement that counts up to the cap hashed every token row of X and every
Patient before its first match (57 ms), while the page statement, walking
Patients in id order and probing each, took 1.8 ms. SQLite materialised the
token rows, their reference rows and the Patients as ``IN`` lists in each of its
statements (299 ms of CPU per request at 437k).

When the source clause is a membership with more than ``CHAIN_CAP`` index rows
(``driver_rows`` counts them, index-only), ``walk_has`` walks the targets in id
order and probes each for a source (a correlated ``EXISTS`` per target, fenced
on PostgreSQL so the planner cannot turn it back into a join), and stops after
``ESTIMATE_CAP + 1`` matches. Those are the *first* matches in order: counted,
they say whether the total is beyond the cap, and the page is among them. With
fewer source rows the membership form stays (they are few to hash or list).
"""

from __future__ import annotations

from polyfhir_primary.search.plan import DEFAULT_SORT, HasClause, SearchPlan
from polyfhir_primary.search.sql.builder import SqlBuilder
from polyfhir_primary.search.sql.fragments import Sql
from polyfhir_primary.search.sql.memberships import index_rows_counted
from polyfhir_primary.search.sql.page import PageOrder
from polyfhir_primary.search.sql.schema import PAGE_COLUMNS
from polyfhir_primary.search.sql.totals import CHAIN_CAP, ESTIMATE_CAP


def walked_has(plan: SearchPlan) -> HasClause | None:
    """The ``_has`` clause of a search that is that clause alone on one type, in the
    default order, counted, whose page lies within ``ESTIMATE_CAP``."""
    types = plan.resource_types
    if (
        types is None
        or len(types) != 1
        or len(plan.clauses) != 1
        or not isinstance(plan.clauses[0], HasClause)
        or plan.sort != DEFAULT_SORT
        or not plan.count_total
        or plan.limit <= 0
        or plan.offset + plan.limit > ESTIMATE_CAP
    ):
        return None
    return plan.clauses[0]


def source_rows(builder: SqlBuilder, c: HasClause) -> Sql | None:
    """The index rows of the ``_has`` source clause counted up to ``CHAIN_CAP + 1``,
    when it is one membership clause."""
    criteria = c.criteria
    if len(criteria.clauses) != 1 or criteria.resource_types != (c.source_type,):
        return None
    return index_rows_counted(builder, (c.source_type,), criteria.clauses[0], CHAIN_CAP + 1)


def walk_has(builder: SqlBuilder, plan: SearchPlan, order: PageOrder) -> Sql:
    """The first ``ESTIMATE_CAP + 1`` matches in order, each target probed, counted
    in column ``n``, and the page of them."""
    probes, probes_args = builder.probing(plan.criteria, "r")
    tenant, live = builder.tenant, builder.dialect.flag(False)
    first = (
        f"{order.keyed} resources r WHERE r.tenant = ? AND r.deleted = ? AND {probes}"
        f" ORDER BY {order.inner} LIMIT {ESTIMATE_CAP + 1}"
    )
    return (
        f"SELECT {PAGE_COLUMNS}, page.n FROM (SELECT m.*, COUNT(*) OVER () AS n FROM"
        f" ({first}) m ORDER BY {order.inner} LIMIT ? OFFSET ?) page{order.join}",
        [*order.key_args, tenant, live, *probes_args, plan.limit, plan.offset],
    )
