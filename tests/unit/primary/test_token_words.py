"""Token ``:text`` by word: the words each token text is indexed by, and the search
words matched against them (the SQL runs in tests/integration/api/test_search_types.py)."""

from __future__ import annotations

from polyfhir_core.indexing.index_values import IndexValues, TokenValue
from polyfhir_core.search.strings import MAX_WORD_CHARS, text_words
from polyfhir_primary.adapters.sql.dialects import SQLITE
from polyfhir_primary.adapters.sql.index_rows import index_rows

OWNER = ("t", "Condition", "c1")


def test_words_are_normalised_split_on_punctuation_and_not_repeated() -> None:
    assert text_words("Type 2 Diabetes-mellitus, type 2") == ("type", "2", "diabetes", "mellitus")
    assert text_words("Ménière's disease") == ("meniere", "s", "disease")
    assert text_words(" -- ") == ()


def test_a_long_word_is_cut_like_the_search_word() -> None:
    long = "x" * (MAX_WORD_CHARS + 10)
    assert text_words(long) == ("x" * MAX_WORD_CHARS,)


def test_each_token_text_gives_one_row_per_distinct_word_and_parameter() -> None:
    values = IndexValues(
        tokens=[
            TokenValue("code", "http://snomed.info/sct", "44054006", "Type 2 diabetes mellitus"),
            TokenValue("code", None, None, "Diabetes"),
            TokenValue("category", None, "problem", "Problem"),
            TokenValue("code", "http://x", "1"),
        ]
    )
    rows = dict(index_rows(values, OWNER, SQLITE))
    assert rows["idx_token_word"] == [
        (*OWNER, "code", "type"),
        (*OWNER, "code", "2"),
        (*OWNER, "code", "diabetes"),
        (*OWNER, "code", "mellitus"),
        (*OWNER, "category", "problem"),
    ]
