"""Index rows of one resource version, as (table, column list, rows) for executemany."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any

from polyfhir_core.indexing.index_values import IndexValues, TokenValue
from polyfhir_core.search.strings import text_words
from polyfhir_primary.adapters.sql.dialect import Dialect, plain_insert

INDEX_TABLES = (
    "idx_token",
    "idx_token_word",
    "idx_string",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_reference",
    "idx_uri",
)

# ``elem`` (migration 0005) groups the component rows of one composite element; NULL otherwise.
_COLUMNS = {
    "idx_token": ("param", "system", "code", "text", "elem"),
    "idx_token_word": ("param", "word"),  # migration 0014/0009: token :text by word
    "idx_string": ("param", "value", "exact", "elem"),
    "idx_date": ("param", "low", "high", "elem"),
    "idx_number": ("param", "value", "low", "high", "elem"),
    "idx_quantity": ("param", "value", "low", "high", "system", "code", "unit", "elem"),
    "idx_reference": ("param", "target_type", "target_id", "url"),
    "idx_uri": ("param", "value"),
}


_INSERTS = {t: plain_insert(t, ("tenant", "res_type", "res_id", *c)) for t, c in _COLUMNS.items()}


def insert_sql(table: str) -> str:
    return _INSERTS[table]


@lru_cache(maxsize=8)
def _timestamps(dialect: Dialect) -> Callable[[datetime], Any]:
    """``dialect.ts``, remembered where it formats text (index rows repeat their dates)."""
    if dialect.timestamps_as_text:  # a pure function of the instant
        return lru_cache(maxsize=65536)(dialect.ts)
    return dialect.ts


def _token_words(tokens: list[TokenValue], owner: tuple[str, str, str]) -> list[tuple[Any, ...]]:
    """One row per distinct (param, word) of the tokens' texts (displays repeat words)."""
    words = dict.fromkeys((t.param, w) for t in tokens if t.text for w in text_words(t.text))
    return [(*owner, param, word) for param, word in words]


def _add_rows(
    per_table: dict[str, list[tuple[Any, ...]]],
    values: IndexValues,
    owner: tuple[str, str, str],
    ts: Callable[[datetime], Any],
    elem: int | None,
) -> None:
    per_table["idx_token"] += [
        (*owner, t.param, t.system, t.code, t.text, elem) for t in values.tokens
    ]
    if elem is None:  # :text is on a token parameter, never on a composite's component
        per_table["idx_token_word"] += _token_words(values.tokens, owner)
    per_table["idx_string"] += [(*owner, s.param, s.value, s.exact, elem) for s in values.strings]
    per_table["idx_date"] += [(*owner, d.param, ts(d.low), ts(d.high), elem) for d in values.dates]
    per_table["idx_number"] += [
        (*owner, n.param, float(n.value), float(n.low), float(n.high), elem) for n in values.numbers
    ]
    per_table["idx_quantity"] += [
        (
            *owner,
            q.param,
            float(q.value),
            float(q.low),
            float(q.high),
            q.system,
            q.code,
            q.unit,
            elem,
        )
        for q in values.quantities
    ]
    per_table["idx_reference"] += [
        (*owner, r.param, r.target_type, r.target_id, r.url) for r in values.references
    ]
    per_table["idx_uri"] += [(*owner, u.param, u.value) for u in values.uris]


def index_rows(
    values: IndexValues, owner: tuple[str, str, str], dialect: Dialect
) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """Yield ``(table, rows)`` with the owner columns prepended to every row."""
    per_table: dict[str, list[tuple[Any, ...]]] = {table: [] for table in INDEX_TABLES}
    ts = _timestamps(dialect)
    _add_rows(per_table, values, owner, ts, None)
    for composite in values.composites:
        _add_rows(per_table, composite.values, owner, ts, composite.elem)
    for table, rows in per_table.items():
        if rows:
            yield table, rows
