"""Index rows of one resource version, as (table, column list, rows) for executemany."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from polyfhir_core.indexing.values import IndexValues
from polyfhir_primary.adapters.sql.dialect import Dialect, plain_insert

INDEX_TABLES = (
    "idx_token",
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


def _typed_rows(
    values: IndexValues, dialect: Dialect, elem: int | None
) -> dict[str, list[tuple[Any, ...]]]:
    ts = dialect.ts
    return {
        "idx_token": [(t.param, t.system, t.code, t.text, elem) for t in values.tokens],
        "idx_string": [(s.param, s.value, s.exact, elem) for s in values.strings],
        "idx_date": [(d.param, ts(d.low), ts(d.high), elem) for d in values.dates],
        "idx_number": [
            (n.param, float(n.value), float(n.low), float(n.high), elem) for n in values.numbers
        ],
        "idx_quantity": [
            (q.param, float(q.value), float(q.low), float(q.high), q.system, q.code, q.unit, elem)
            for q in values.quantities
        ],
        "idx_reference": [(r.param, r.target_type, r.target_id, r.url) for r in values.references],
        "idx_uri": [(u.param, u.value) for u in values.uris],
    }


def index_rows(
    values: IndexValues, owner: tuple[str, str, str], dialect: Dialect
) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """Yield ``(table, rows)`` with the owner columns prepended to every row."""
    per_table = _typed_rows(values, dialect, None)
    for composite in values.composites:
        for table, rows in _typed_rows(composite.values, dialect, composite.elem).items():
            per_table[table] += rows
    for table, rows in per_table.items():
        if rows:
            yield table, [(*owner, *row) for row in rows]
