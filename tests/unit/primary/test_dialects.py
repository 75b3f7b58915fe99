"""What differs between SQLite and PostgreSQL in a search, asked of each engine's Dialect."""

from __future__ import annotations

from polyfhir_core.search.dates import require_date_range
from polyfhir_core.search.fulltext import parse_text_query
from polyfhir_primary.adapters.sql.dialects import POSTGRES, SQLITE
from polyfhir_primary.search.plan import (
    ANY,
    Criteria,
    DateClause,
    FullTextClause,
    ReferenceClause,
    StringClause,
    TokenClause,
    TokenMatch,
)

DATE = DateClause("date", (("ge", require_date_range("2020", "date")),))
CODE = TokenClause("code", (TokenMatch(ANY, "8867-4"),))
IDENTIFIER = TokenClause("identifier", (TokenMatch("http://mrn", "A1"),))


def test_sqlite_drives_by_the_most_selective_clause() -> None:
    assert SQLITE.driving_clause((DATE, CODE)) == 1  # a code before a date range
    assert SQLITE.driving_clause((DATE, CODE, IDENTIFIER)) == 2  # an identifier before both
    assert SQLITE.driving_clause((CODE,)) is None  # one clause: nothing to probe
    assert SQLITE.probes_other_clauses


def _chain(terminal: TokenClause | StringClause) -> ReferenceClause:
    return ReferenceClause(
        "patient", target_types=("Patient",), chain=Criteria(("Patient",), (terminal,))
    )


def test_sqlite_drives_by_a_chain_only_when_its_terminal_is_selective() -> None:
    half_the_patients = _chain(TokenClause("gender", (TokenMatch(ANY, "female"),)))
    assert SQLITE.driving_clause((half_the_patients, CODE)) == 1  # the code drives
    by_name = _chain(StringClause("name", ("smi",)))
    assert SQLITE.driving_clause((by_name, CODE)) == 0  # the chain to a name drives
    assert SQLITE.driving_clause((CODE, by_name)) == 1


def test_postgres_leaves_the_order_to_its_planner() -> None:
    assert POSTGRES.driving_clause((DATE, CODE, IDENTIFIER)) is None
    assert not POSTGRES.probes_other_clauses
    assert not POSTGRES.probes((DATE, CODE))


def test_postgres_drives_a_search_with_a_chain_by_its_most_selective_clause() -> None:
    half_the_patients = _chain(TokenClause("gender", (TokenMatch(ANY, "female"),)))
    assert POSTGRES.driving_clause((half_the_patients, CODE)) == 1
    assert POSTGRES.probes((half_the_patients,))  # the chain probes the code's rows
    assert POSTGRES.driving_clause((_chain(StringClause("name", ("smi",))), CODE)) == 0


def test_each_engine_matches_words_in_its_own_full_text_rows() -> None:
    words = FullTextClause("narrative", parse_text_query("heart"))
    assert POSTGRES.fulltext_membership("f1", words) == (
        "fulltext",
        "f1.narrative @@ to_tsquery('english', ?)",
        ["('heart')"],
    )
    table, condition, args = SQLITE.fulltext_membership("f1", words)
    assert (table, condition) == (
        "fulltext_docs",
        "f1.docid IN (SELECT rowid FROM fts_resources WHERE fts_resources MATCH ?)",
    )
    assert args == ['{narrative} : (("heart"))']


def test_statement_shapes_each_engine_chooses() -> None:
    assert (SQLITE.counts_from_index_rows, POSTGRES.counts_from_index_rows) == (True, False)
    assert (SQLITE.pages_from_index_rows, POSTGRES.pages_from_index_rows) == (False, True)
    assert (SQLITE.walks_fulltext, POSTGRES.walks_fulltext) == (False, True)


def test_a_timestamp_stored_as_text_reads_back_as_the_same_utc_instant() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    written = datetime(2025, 3, 9, 23, 30, 5, 120, tzinfo=timezone(timedelta(hours=-5)))
    stored = SQLITE.ts(written)
    assert stored == "2025-03-10T04:30:05.000120Z"
    read = SQLITE.read_ts(stored)
    assert read == written
    assert read.utcoffset() == timedelta(0)
    assert read.tzinfo == UTC
    assert POSTGRES.read_ts(written) == written  # a driver's datetime, converted to UTC
    assert POSTGRES.read_ts(written).utcoffset() == timedelta(0)
