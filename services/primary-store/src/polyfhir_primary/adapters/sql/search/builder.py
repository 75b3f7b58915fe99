"""Turn a SearchPlan into SQL: clauses nest through ``criteria`` with fresh aliases.

Each clause is an uncorrelated ``IN (SELECT …)`` over its index table (see
``fragments``); chains and ``_has`` nest the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from polyfhir_primary.adapters.sql.dialect import Dialect
from polyfhir_primary.adapters.sql.search import (
    composite,
    numbers,
    references,
    scalar,
    terminology,
    text,
)
from polyfhir_primary.adapters.sql.search.fragments import Sql
from polyfhir_primary.adapters.sql.search.references import membership_ids
from polyfhir_primary.adapters.sql.search.total import ESTIMATE_CAP, capped_count_sql
from polyfhir_primary.domain.search_plan import (
    DEFAULT_SORT,
    Clause,
    CompartmentClause,
    CompositeClause,
    Criteria,
    DateClause,
    FullTextClause,
    HasClause,
    IdClause,
    MissingClause,
    NumberClause,
    ReferenceClause,
    SearchPlan,
    SortField,
    StringClause,
    TerminologyClause,
    TokenClause,
    UriClause,
)

RESOURCE_COLUMNS = "r.res_type, r.res_id, r.version, r.last_updated, r.deleted, r.content"
PAGE_COLUMNS = RESOURCE_COLUMNS.replace("r.", "p.")

_BUILDERS: dict[type[Any], Callable[[Any, Any, str], Sql]] = {
    IdClause: scalar.id_sql,
    DateClause: scalar.date_sql,
    TokenClause: scalar.token_sql,
    StringClause: scalar.string_sql,
    UriClause: scalar.uri_sql,
    MissingClause: scalar.missing_sql,
    NumberClause: numbers.number_sql,
    ReferenceClause: references.reference_sql,
    HasClause: references.has_sql,
    FullTextClause: text.fulltext_sql,
    TerminologyClause: terminology.terminology_sql,
    CompartmentClause: references.compartment_sql,
    CompositeClause: composite.composite_sql,
}


class SqlBuilder:
    def __init__(self, dialect: Dialect, tenant: str) -> None:
        self.dialect = dialect
        self.tenant = tenant
        self._n = 0
        self._types: dict[str, tuple[str, ...] | None] = {}
        self.probe = False

    def types_of(self, alias: str) -> tuple[str, ...] | None:
        """The resource types the rows of ``alias`` can have (None: any)."""
        return self._types.get(alias)

    def alias(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def clause(self, clause: Clause, alias: str) -> Sql:
        return _BUILDERS[type(clause)](self, clause, alias)

    def criteria(self, criteria: Criteria, alias: str) -> Sql:
        driver = _driver(criteria.clauses) if self.dialect.name == "sqlite" else None
        return self._criteria(criteria, alias, driver, typed=True)

    def tests(self, criteria: Criteria, alias: str) -> Sql:
        """Every clause of ``criteria`` as a test of the rows of ``alias``, whose types
        are ``criteria``'s (not tested again): memberships, or on SQLite probes."""
        every = -1 if self.dialect.name == "sqlite" else None
        return self._criteria(criteria, alias, every, typed=False)

    def driver(self, clauses: tuple[Clause, ...]) -> int:
        """The clause whose rows drive: SQLite's pick (``_rank``), else the first."""
        return (_driver(clauses) or 0) if self.dialect.name == "sqlite" else 0

    def _criteria(self, criteria: Criteria, alias: str, driver: int | None, typed: bool) -> Sql:
        parts: list[str] = []
        args: list[Any] = []
        self._types[alias] = criteria.resource_types
        if typed and criteria.resource_types is not None:
            marks = ", ".join("?" for _ in criteria.resource_types)
            parts.append(f"{alias}.res_type IN ({marks})")
            args += list(criteria.resource_types)
        outer = self.probe
        for n, clause in enumerate(criteria.clauses):
            self.probe = driver is not None and n != driver
            sql, a = self.clause(clause, alias)
            parts.append(sql)
            args += a
        self.probe = outer
        return ("(" + " AND ".join(parts) + ")" if parts else "1 = 1"), args

    def sole_clause(self, criteria: Criteria, alias: str) -> Sql:
        """The one clause of ``criteria`` alone, without its type test, as a
        membership (not a probe)."""
        self._types[alias] = criteria.resource_types
        outer, self.probe = self.probe, False
        try:
            return self.clause(criteria.clauses[0], alias)
        finally:
            self.probe = outer


def _rank(clause: Clause) -> int:
    """How selective a clause usually is (lower: fewer rows), to pick SQLite's driver.

    Identifiers, references to one resource and names pick out a few resources;
    a chain ends in such a test on the target; a code (``code=8480-6``) is often
    shared by a large part of a type (measured: at 95k resources a chain driving
    and the code probing takes 30 ms, the other way round 125 ms).
    """
    if isinstance(clause, IdClause):
        return 0
    if isinstance(clause, TokenClause):
        if clause.negate or clause.text:
            return 9
        params = (clause.param,) if isinstance(clause.param, str) else clause.param
        return 1 if any(p.endswith("identifier") for p in params) else 3
    if isinstance(clause, StringClause | UriClause):
        return 9 if clause.mode in ("contains", "above") else 1
    if isinstance(clause, ReferenceClause):
        return 1 if clause.matches else 2
    if isinstance(clause, CompositeClause | CompartmentClause):
        return 2
    if isinstance(clause, FullTextClause):
        return 3
    if isinstance(clause, HasClause | TerminologyClause):
        return 9 if isinstance(clause, TerminologyClause) and clause.op == "not-in" else 4
    return 9  # dates, numbers, quantities, :missing


def _driver(clauses: tuple[Clause, ...]) -> int | None:
    if len(clauses) < 2:
        return None
    return min(range(len(clauses)), key=lambda n: _rank(clauses[n]))


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
    candidate, see ``references.membership_ids``).

    ``walk``: the first page by reading the type's full-text documents in the
    default order (id; migration 0010) and testing each one's words in place,
    for at most ``WALK_ROWS_PER_MATCH`` documents per wanted match (PostgreSQL,
    full text, one type). PostgreSQL cannot estimate how many of a type's
    documents contain a word (a word may be in 30 % of the Conditions and no
    Observation), so it sorts every match where a walk stops after a few dozen
    documents (at 1M resources: 130 ms vs 2 ms). When the walk fills the page,
    that page is the answer: it is the first matches of a prefix of the order.
    ``walk_count`` then tells whether there are more than ``ESTIMATE_CAP``
    matches within a longer walk (``_total=estimate``; if not, ``count`` says).
    When the walk comes up short the word is rarer, and ``counted_page`` finds
    the page and the exact number of matches from the index rows in one pass
    (a word in 2 % of 62,160 Conditions: small + page + estimate 17 -> 4 ms).

    ``page`` in the default order with one type and only memberships of index
    rows: the ids of the page from those rows alone (``membership_ids``), and
    ``resources`` read for the page only.

    ``count``: every match counted (``accurate``), or counted up to the cap
    (``estimate``, for pages beyond the cap; ``estimate_where`` is the filter the
    planner's estimate is asked for beyond it).
    """

    page: Sql
    small: Sql | None
    small_cap: int  # ``small`` is the answer when it counts at most this many matches
    walk: Sql | None
    walk_count: Sql | None
    counted_page: Sql | None
    count: Sql | None
    estimate_where: Sql | None


WALK_ROWS_PER_MATCH = 50
COUNT_WALK_ROWS_PER_MATCH = 10
CHAIN_CAP = 10 * ESTIMATE_CAP


def search_statements(tenant: str, plan: SearchPlan, d: Dialect) -> SearchStatements:
    builder = SqlBuilder(d, tenant)
    body, body_args = builder.criteria(plan.criteria, "r")
    where = f"r.tenant = ? AND r.deleted = ? AND {body}"
    args = [tenant, d.flag(False), *body_args]
    keys, key_args = sort_keys(plan.sort)
    values = ", ".join(f"{expr} AS k{n}" for n, (expr, _) in enumerate(keys))
    inner = ", ".join(f"k{n}{' DESC' if desc else ''}" for n, (_, desc) in enumerate(keys))
    outer = ", ".join(f"page.k{n}{' DESC' if desc else ''}" for n, (_, desc) in enumerate(keys))
    join = (
        " JOIN resources p ON p.tenant = page.tenant AND p.res_type = page.res_type"
        f" AND p.res_id = page.res_id ORDER BY {outer}"
    )
    keyed = f"SELECT r.tenant, r.res_type, r.res_id, {values} FROM"
    page = (
        f"SELECT {PAGE_COLUMNS} FROM ({keyed} resources r WHERE {where}"
        f" ORDER BY {inner} LIMIT ? OFFSET ?) page{join}",
        [*key_args, *args, plan.limit, plan.offset],
    )
    types = plan.criteria.resource_types
    counting = plan.count_total or plan.estimate_total
    chained = any(
        isinstance(c, ReferenceClause) and c.chain is not None for c in plan.criteria.clauses
    )
    # the matches from index rows alone, where a statement below reads them: the page
    # in the default order, a chain's count, SQLite's count
    wanted = plan.sort == DEFAULT_SORT or (counting and (chained or d.name == "sqlite"))
    matched_ids = membership_ids(builder, plan.criteria, "r") if wanted else None
    in_order = matched_ids if plan.sort == DEFAULT_SORT else None
    walk, walk_count = _walks(builder, plan, keyed, key_args, inner, join)
    counted_page = None
    small, small_cap = None, ESTIMATE_CAP
    if in_order is not None and types is not None:  # the page from index rows alone
        matched, matched_args = in_order
        resources = (
            " JOIN resources p ON p.tenant = ? AND p.res_type = ? AND p.res_id = page.res_id"
            " AND p.deleted = ? ORDER BY p.res_id"
        )
        tail = [plan.limit, plan.offset, tenant, types[0], d.flag(False)]
        if d.name == "postgresql":  # SQLite walks its resources in this order (no sort)
            page = (
                f"SELECT {PAGE_COLUMNS} FROM ({matched} ORDER BY m.res_id LIMIT ? OFFSET ?)"
                f" page{resources}",
                [*matched_args, *tail],
            )

        def counted(cap: str) -> Sql:  # the page and the (capped) number of matches
            return (
                f"SELECT {PAGE_COLUMNS}, page.n FROM (SELECT i.res_id, COUNT(*) OVER () AS n"
                f" FROM ({matched}{cap}) i ORDER BY i.res_id LIMIT ? OFFSET ?) page{resources}",
                [*matched_args, *tail],
            )

        if counting and walk is not None:  # after a walk that came up short
            counted_page = counted("")
        if counting and chained and plan.limit > 0 and plan.offset + plan.limit <= CHAIN_CAP:
            small, small_cap = counted(f" LIMIT {CHAIN_CAP + 1}"), CHAIN_CAP
    ids = matched_ids if chained and counting and small is None else None
    if ids is not None:
        small_cap = CHAIN_CAP
    if small is None and counting and plan.limit > 0 and plan.offset + plan.limit <= small_cap:
        capped = f"{keyed} resources r WHERE {where} LIMIT {small_cap + 1}"
        capped_args = [*key_args, *args]
        if ids is not None:  # the matches from index rows; resources rows for them only
            capped = (
                f"{keyed} resources r WHERE r.tenant = ? AND r.deleted = ? AND r.res_type = ?"
                f" AND r.res_id IN ({ids[0]} LIMIT {small_cap + 1})"
            )
            capped_args = [*key_args, tenant, d.flag(False), *(types or ()), *ids[1]]
        small = (
            f"SELECT {PAGE_COLUMNS}, page.n FROM (SELECT m.*, COUNT(*) OVER () AS n FROM"
            f" ({capped}) m ORDER BY {inner} LIMIT ? OFFSET ?) page{join}",
            [*capped_args, plan.limit, plan.offset],
        )
    count = None
    if d.name == "sqlite" and matched_ids is not None:  # no resources row per match
        matched, matched_args = matched_ids
        cap = f" LIMIT {ESTIMATE_CAP + 1}" if plan.estimate_total else ""
        if counting:
            count = (f"SELECT COUNT(*) FROM ({matched}{cap}) c", matched_args)
    elif plan.estimate_total:
        count = (capped_count_sql(where), args)
    elif plan.count_total:
        count = (f"SELECT COUNT(*) FROM resources r WHERE {where}", args)
    estimate_where = (where, args) if plan.estimate_total else None
    return SearchStatements(
        page, small, small_cap, walk, walk_count, counted_page, count, estimate_where
    )


def _walks(
    builder: SqlBuilder,
    plan: SearchPlan,
    keyed: str,
    key_args: list[Any],
    inner: str,
    join: str,
) -> tuple[Sql | None, Sql | None]:
    """``walk`` and ``walk_count`` of ``SearchStatements`` (PostgreSQL, full text,
    first page, default order, one type): the type's documents in id order, each
    tested in place for its words, the other clauses as usual."""
    types = plan.criteria.resource_types
    texts = [c for c in plan.criteria.clauses if isinstance(c, FullTextClause)]
    if (
        builder.dialect.name != "postgresql"
        or not texts
        or plan.offset != 0
        or plan.limit <= 0
        or plan.sort != DEFAULT_SORT
        or types is None
        or len(types) != 1
    ):
        return None, None
    tenant, first = builder.tenant, texts[0]
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
        f"SELECT {PAGE_COLUMNS} FROM ({keyed} {walked(WALK_ROWS_PER_MATCH * plan.limit)}"
        f" WHERE {where} ORDER BY {inner} LIMIT ?) page{join}",
        [*key_args, *args, plan.limit],
    )
    if not plan.estimate_total:
        return walk, None
    # beyond the cap within the first documents? (else the count statement decides)
    beyond = f"SELECT 1 FROM {walked(COUNT_WALK_ROWS_PER_MATCH * (ESTIMATE_CAP + 1))}"
    return walk, (f"SELECT COUNT(*) FROM ({beyond} WHERE {where} LIMIT {ESTIMATE_CAP + 1}) n", args)


def sort_keys(fields: tuple[SortField, ...]) -> tuple[list[tuple[str, bool]], list[Any]]:
    """``([(expression, descending), ...], args)``: the page's order, key by key."""
    keys: list[tuple[str, bool]] = []
    args: list[Any] = []
    for f in fields:
        if f.param is None:
            keys.append((f"r.{f.column}", f.descending))
            continue
        agg = "MAX" if f.descending else "MIN"
        params = (f.param,) if isinstance(f.param, str) else f.param
        rows = f"o.param IN ({', '.join('?' for _ in params)})"
        rows_args: list[Any] = list(params)
        if f.target_type is not None:
            rows += " AND o.target_type = ?"
            rows_args.append(f.target_type)
        value = (
            f"(SELECT {agg}(o.{f.column}) FROM {f.table} o WHERE o.tenant = r.tenant"
            f" AND o.res_type = r.res_type AND o.res_id = r.res_id AND {rows})"
        )
        keys += [(f"{value} IS NULL", False), (value, f.descending)]  # missing values last
        args += [*rows_args, *rows_args]
    return keys, args
