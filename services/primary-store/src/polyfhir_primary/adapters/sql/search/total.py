"""``_total=estimate``: count exactly up to a cap, estimate beyond it.

An accurate total of a broad search visits every matching row, which on a
large tenant costs far more than the page itself. With ``_total=estimate``
the store counts at most ``ESTIMATE_CAP + 1`` rows (cheap: the count stops
there; for the first pages the count comes with the page, see
``builder.SearchStatements.small``). Up to the cap the number is exact; above
it PostgreSQL reports its planner's row estimate for the search (never less
than the cap + 1),
and SQLite, which has no such estimate, reports ``ESTIMATE_CAP + 1`` — "more
than the cap". ``_total=none`` skips counting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from polyfhir_primary.adapters.sql.dialect import Conn, Dialect

ESTIMATE_CAP = 100


def capped_count_sql(where: str) -> str:
    capped = f"SELECT 1 FROM resources r WHERE {where} LIMIT {ESTIMATE_CAP + 1}"
    return f"SELECT COUNT(*) FROM ({capped}) capped"


async def estimate_beyond_cap(
    conn: Conn, d: Dialect, where: str, args: Sequence[Any], counted: int = ESTIMATE_CAP
) -> int:
    """The planner's row estimate for the search (PostgreSQL), above the ``counted``
    matches known to exist."""
    floor = counted + 1
    if d.name != "postgresql":
        return floor
    rows = await conn.fetch(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM resources r WHERE {where}", args)
    plan = rows[0][0]
    parsed = orjson.loads(plan) if isinstance(plan, str | bytes) else plan
    return max(floor, int(parsed[0]["Plan"]["Plan Rows"]))
