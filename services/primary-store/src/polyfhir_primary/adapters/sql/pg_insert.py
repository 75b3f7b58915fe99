"""Many rows of one table in one statement: ``INSERT ... SELECT * FROM unnest(arrays)``.

PostgreSQL refuses ``COPY FROM`` into a table under row-level security (migration
0015), so many rows go as one array per column instead: one round trip, one
statement, the policies checked on every row like any INSERT. The arrays are typed
from the catalog (asked once per table and process: the schema is ours and only
migrations change it, at start-up).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

_COLUMN_TYPES = (
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
    " WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped"
)
_statements: dict[tuple[str, tuple[str, ...]], str] = {}


async def _statement(raw: asyncpg.Connection, table: str, columns: tuple[str, ...]) -> str:
    key = (table, columns)
    if key not in _statements:
        types = {row[0]: row[1] for row in await raw.fetch(_COLUMN_TYPES, table)}
        arrays = ", ".join(f"${n}::{types[c]}[]" for n, c in enumerate(columns, start=1))
        _statements[key] = (
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        )
    return _statements[key]


async def insert_rows(
    raw: asyncpg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in one statement."""
    sql = await _statement(raw, table, tuple(columns))
    await raw.execute(sql, *(list(column) for column in zip(*rows, strict=True)))
