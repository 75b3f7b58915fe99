"""When to refresh planner statistics: each time the written data doubles, in the background.

Both engines plan the search SQL from statistics; on tables that grew since
the last ANALYZE the guesses go badly wrong (see each dialect's note). The
store counts the resource versions it writes and runs its dialect's ANALYZE
once the count since the last run reaches everything written before it (at
least ``first_after``), one run at a time: after 100, 200, 400, ... versions.
What matters is the step from nearly empty to sized; after that distributions
move slowly. An ANALYZE reads a sample of bounded size, so running it after
every 10 % of growth (as before) cost a bulk load of 19k resources 55 runs and
~6 s of database CPU, about a fifth of its indexed ingest on two cores.
PostgreSQL's autovacuum analyses tables on its own in the steady state.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod


class GrowthAnalyzer(ABC):
    def __init__(self, first_after: int = 100) -> None:
        self._since = 0
        self._total = 0
        self._first_after = first_after
        self._task: asyncio.Task[None] | None = None

    def wrote(self, versions: int) -> None:
        self._since += versions
        self._total += versions
        due = self._since >= max(self._first_after, self._total - self._since)
        if due and (self._task is None or self._task.done()):
            self._since = 0
            self._task = asyncio.create_task(self.analyze())

    @abstractmethod
    async def analyze(self) -> None:
        """Refresh the statistics; failures are logged, never raised (an optimisation)."""

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
