"""SQLite: text timestamps, one writer, and searches driven by one clause.

SQLite materialises every ``IN (SELECT …)`` in full (a date range can be most of
a table), so a search's most selective clause, by a fixed rank, drives and
the other clauses probe the rows it found; counts come from index rows
(migration 0006 makes the indexes they read covering). ``docs/search.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from polyfhir_primary.adapters.sql.dialect import Conn, Dialect
from polyfhir_primary.adapters.sql.fulltext import Writes, fts5_query, sqlite_document_writes
from polyfhir_primary.adapters.sql.pending import Owner
from polyfhir_primary.search.plan import (
    Clause,
    CompartmentClause,
    CompositeClause,
    FullTextClause,
    HasClause,
    IdClause,
    ReferenceClause,
    StringClause,
    TerminologyClause,
    TokenClause,
    UriClause,
)


def selectivity_rank(clause: Clause) -> int:
    """How selective a clause usually is (lower: fewer rows), to pick the driver.

    Identifiers, references to one resource and names pick out a few resources;
    a chain ends in such a test on the target; a code (``code=8480-6``) is often
    shared by a large part of a type (measured: at 95k resources a chain driving
    and the code probing takes 30 ms, the other way round 125 ms). A chain ranks
    one above its terminal's test: one ending in a token shared by half the
    targets (``patient.gender=female``) is less selective than a code.
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
        if clause.matches:
            return 1
        if clause.chain is not None and clause.chain.clauses:
            # as selective as its most selective terminal test, one step less (every
            # target is referenced by many): ``patient.name=x`` still drives a code,
            # ``patient.gender=female`` (half the patients) no longer does
            return 1 + min(selectivity_rank(c) for c in clause.chain.clauses)
        return 2
    if isinstance(clause, CompositeClause | CompartmentClause):
        return 2
    if isinstance(clause, FullTextClause):
        return 3
    if isinstance(clause, HasClause | TerminologyClause):
        return 9 if isinstance(clause, TerminologyClause) and clause.op == "not-in" else 4
    return 9  # dates, numbers, quantities, :missing


class SqliteDialect(Dialect):
    name = "sqlite"
    timestamps_as_text = True
    for_update = ""  # one writer: a write transaction holds the database
    probes_other_clauses = True
    counts_from_index_rows = True
    pages_from_index_rows = False  # its general page reads resources in id order already
    walks_fulltext = False

    def code_list_source(self, j: str, values: Sequence[str]) -> tuple[str, list[Any]] | None:
        return f"json_each(?) {j}", [orjson.dumps(sorted(set(values))).decode()]

    def driving_clause(self, clauses: Sequence[Clause]) -> int | None:
        if len(clauses) < 2:
            return None
        return min(range(len(clauses)), key=lambda n: selectivity_rank(clauses[n]))

    def fulltext_membership(self, f: str, words: FullTextClause) -> tuple[str, str, list[Any]]:
        condition = f"{f}.docid IN (SELECT rowid FROM fts_resources WHERE fts_resources MATCH ?)"
        return "fulltext_docs", condition, [fts5_query(words.column, words.query)]

    async def planner_estimate(self, conn: Conn, select: str, args: Sequence[Any]) -> int | None:
        return None  # SQLite has no row estimate to ask for

    def document_writes(
        self, owner: Owner, narrative: str | None, content: str | None, *, previous: int | None
    ) -> Writes:
        return sqlite_document_writes(owner, narrative, content, previous=previous)

    async def lock_condition(self, conn: Conn, key: str) -> None:
        return None  # the one writer serialises every write transaction


SQLITE = SqliteDialect()
