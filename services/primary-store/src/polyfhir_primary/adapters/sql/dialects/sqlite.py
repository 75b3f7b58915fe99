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
from polyfhir_primary.adapters.sql.dialects.selectivity import most_selective
from polyfhir_primary.adapters.sql.fulltext import Writes, fts5_query, sqlite_document_writes
from polyfhir_primary.adapters.sql.pending import Owner
from polyfhir_primary.search.plan import Clause, FullTextClause


class SqliteDialect(Dialect):
    name = "sqlite"
    timestamps_as_text = True
    for_update = ""  # one writer: a write transaction holds the database
    probes_other_clauses = True
    counts_from_index_rows = True
    pages_from_index_rows = False  # its general page reads resources in id order already
    walks_fulltext = False
    closure_drives = True

    def code_list_source(self, j: str, values: Sequence[str]) -> tuple[str, list[Any]] | None:
        return f"json_each(?) {j}", [orjson.dumps(sorted(set(values))).decode()]

    def driving_clause(self, clauses: Sequence[Clause]) -> int | None:
        if len(clauses) < 2:
            return None
        return most_selective(clauses)

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
