"""When to refresh planner statistics: after every ~10 % growth, in the background.

Both engines plan the search SQL from statistics; on tables that grew since
the last ANALYZE the guesses go badly wrong (see each dialect's note). The
store counts the resource versions it writes and runs its dialect's ANALYZE
once the count since the last run reaches 10 % of everything written (at
least ``first_after``), one run at a time.
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
        due = self._since >= max(self._first_after, self._total // 10)
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
