"""Planner statistics for SQLite while data grows (``ANALYZE`` into ``sqlite_stat1``).

Search statements hold one ``IN (SELECT …)`` per clause; which one drives is
the planner's choice. Without statistics SQLite assumes every index is equally
selective and may drive a code + date query from the date range (most of the
table) instead of the code. Like the PostgreSQL store, ANALYZE runs at open
and again each time the written resource versions double, in the background,
one at a time. ``analysis_limit`` samples each index so it stays
cheap on large files.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from polyfhir_primary.adapters.sql.statistics import GrowthAnalyzer

log = logging.getLogger(__name__)

ANALYZE_SQL = "PRAGMA analysis_limit=1000"


class _Writer(Protocol):
    @property
    def lock(self) -> AbstractAsyncContextManager[None]: ...

    async def execute(self, sql: str, args: tuple[()] = ()) -> int: ...


class SqliteStatistics(GrowthAnalyzer):
    def __init__(self, writer: _Writer, first_after: int = 100) -> None:
        super().__init__(first_after)
        self._writer = writer

    async def analyze(self) -> None:
        try:
            async with self._writer.lock:
                await self._writer.execute(ANALYZE_SQL)
                await self._writer.execute("ANALYZE")
        except sqlite3.Error as exc:  # statistics are an optimisation
            log.warning("background ANALYZE failed: %s", exc)
