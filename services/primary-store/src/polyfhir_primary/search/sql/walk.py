"""The first full-text page by walking the type's documents in id order (PostgreSQL).

PostgreSQL cannot estimate how many of a type's documents contain a word (a
word may be in 30 % of the Conditions and no Observation), so it sorts every
match where a walk of the default order stops after a few dozen documents (at
1M resources: 130 ms vs 2 ms). When the walk fills the page, that page is the
answer: it is the first matches of a prefix of the order. ``walk_count`` tells
whether there are more than ``ESTIMATE_CAP`` matches within a longer walk
(``_total=estimate``). ``SearchStatements`` says what runs when it comes up short.
"""

from __future__ import annotations

from polyfhir_primary.search.plan import DEFAULT_SORT, Criteria, FullTextClause, SearchPlan
from polyfhir_primary.search.sql import text
from polyfhir_primary.search.sql.builder import SqlBuilder
from polyfhir_primary.search.sql.fragments import Sql
from polyfhir_primary.search.sql.page import PageOrder
from polyfhir_primary.search.sql.schema import PAGE_COLUMNS
from polyfhir_primary.search.sql.totals import ESTIMATE_CAP

WALK_ROWS_PER_MATCH = 50
COUNT_WALK_ROWS_PER_MATCH = 10


def _walkable(builder: SqlBuilder, plan: SearchPlan) -> FullTextClause | None:
    """The full-text clause to walk by: the dialect walks, the first page in the
    default order of one type is wanted, and the search has such a clause."""
    types = plan.criteria.resource_types
    texts = [c for c in plan.criteria.clauses if isinstance(c, FullTextClause)]
    if (
        not builder.dialect.walks_fulltext
        or not texts
        or plan.offset != 0
        or plan.limit <= 0
        or plan.sort != DEFAULT_SORT
        or types is None
        or len(types) != 1
    ):
        return None
    return texts[0]


def fulltext_walks(
    builder: SqlBuilder, plan: SearchPlan, order: PageOrder
) -> tuple[Sql | None, Sql | None]:
    """``walk`` and ``walk_count`` of ``SearchStatements``: the type's documents in id
    order, each tested in place for its words, the other clauses as usual."""
    first = _walkable(builder, plan)
    if first is None:
        return None, None
    types = plan.criteria.resource_types
    assert types is not None  # _walkable: one type
    tenant = builder.tenant
    others = Criteria(types, tuple(c for c in plan.criteria.clauses if c is not first))
    rest, rest_args = builder.criteria(others, "r")
    words, words_args = text.in_place("r", first)

    def walked(rows: int) -> str:  # the first ``rows`` documents of the type
        return (
            f"(SELECT w.tenant, w.res_type, w.res_id, w.{first.column} FROM fulltext w"
            f" WHERE w.tenant = ? AND w.res_type = ? ORDER BY w.res_id LIMIT {rows}) r"
        )

    where = f"{words} AND {rest}"
    args = [tenant, types[0], *words_args, *rest_args]
    walk = (
        f"SELECT {PAGE_COLUMNS} FROM ({order.keyed} {walked(WALK_ROWS_PER_MATCH * plan.limit)}"
        f" WHERE {where} ORDER BY {order.inner} LIMIT ?) page{order.join}",
        [*order.key_args, *args, plan.limit],
    )
    if not plan.estimate_total:
        return walk, None
    # beyond the cap within the first documents? (else the count statement decides)
    beyond = f"SELECT 1 FROM {walked(COUNT_WALK_ROWS_PER_MATCH * (ESTIMATE_CAP + 1))}"
    return walk, (f"SELECT COUNT(*) FROM ({beyond} WHERE {where} LIMIT {ESTIMATE_CAP + 1}) n", args)
