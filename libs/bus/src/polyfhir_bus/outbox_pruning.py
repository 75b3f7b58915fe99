"""Pruning the outbox: the relay deletes published rows past the retention window.

Done by the relay that holds the claim, between publishing cycles, in bounded work:
at most ``prune_batch`` rows per statement and ``prune_max_batches`` statements per
pass, one pass every ``prune_interval`` seconds, so a large first prune after an
upgrade spreads over minutes instead of one long statement. The source never deletes
pending or dead-lettered rows (docs/operations.md, "Data and durability").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyfhir_bus.relay import OutboxSource, RelayMetrics, RelaySettings

log = logging.getLogger(__name__)


class OutboxPruner:
    def __init__(
        self,
        source: OutboxSource,
        settings: RelaySettings,
        metrics: RelayMetrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._source, self._settings, self._metrics = source, settings, metrics
        self._clock = clock
        self._pruned_at: float | None = None

    async def prune_once(self) -> int:
        """One pass: delete what is past the window, batch by batch; how many rows went."""
        retention = self._settings.retention
        if retention is None:
            return 0
        before = self._clock() - retention
        total = 0
        for _ in range(self._settings.prune_max_batches):
            deleted = await self._source.prune_published(before, self._settings.prune_batch)
            total += deleted
            if deleted < self._settings.prune_batch:
                break
        if total:
            self._metrics.pruned(total)
            log.info("outbox: pruned %d published rows older than %s", total, retention)
        return total

    async def when_due(self) -> None:
        """A pass when the last one is ``prune_interval`` seconds ago (or there was none)."""
        now = time.monotonic()
        if self._pruned_at is None or now - self._pruned_at >= self._settings.prune_interval:
            self._pruned_at = now
            await self.prune_once()
