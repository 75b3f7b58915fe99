"""Automatic convergence: a search index that cannot prove it is complete is repaired
from the primary, for every tenant, without a manual call.

The index says whether it is complete (``SearchIndex.index_state``: a generation
document kept in the engine with the documents; see docs/search-indexer.md). It
stops being complete when it is (re)created empty (the engine restarted or lost
it, someone deleted it), restored from a snapshot without a complete generation,
or when the indexer sees the gapless positions jump (events lost by a broker
that restarted empty). While it is not complete it refuses full-text searches and
the gateway answers them from the primary (``X-Polyfhir-Fallback: search=not_fresh``).

Every ``interval_s`` this loop asks each search secondary for its state; when
not complete it reconciles every tenant the primary holds
(``PrimaryStore.tenants``; reconcile republishes what is missing or older and
removes orphans, so it refills an empty index and fills the holes of one that
lost events), waits until each tenant's last published position is applied,
then calls ``mark_complete`` with the generation and gap count it started from:
a gap or a new generation that appeared meanwhile keeps the index incomplete
and the next round repairs again.

A loss the index cannot see: events a broker lost when nothing came after them
(no position jumps). The primary knows where the whole stream stands
(``PrimaryStore.stream_positions``). When nothing is left to publish and the
index's applied positions stay below those, unchanged over two rounds, the index
will never receive what it misses: the same repair runs (the republished events
carry new positions, so the index's positions pass the primary's again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from polyfhir_core.contracts.primary_store import PrimaryStore
from polyfhir_core.contracts.search_index import IndexState, SearchIndex
from polyfhir_core.errors import ServiceUnavailable
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline.metrics import INDEX_REPAIRS
from polyfhir_gateway.repair import reconciler
from polyfhir_gateway.repair.jobs import RepairJob

log = logging.getLogger(__name__)

ADMIN_TENANT = "default"  # the tenant the cross-tenant calls are made in (permission scope)
PENDING_POLL_S = 0.2


@dataclass
class RepairStatus:
    """What ``GET /admin/backends`` shows of the automatic repair of one backend."""

    complete: bool | None = None  # None: not asked yet
    generation: str | None = None
    repairing: bool = False
    tenants: int = 0
    last_repair: datetime | None = None
    last_outcome: str | None = None
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "generation": self.generation,
            "repairing": self.repairing,
            "tenants": self.tenants,
            "lastRepair": self.last_repair.isoformat() if self.last_repair else None,
            "lastOutcome": self.last_outcome,
            "lastError": self.last_error,
        }


class Convergence:
    """Keeps every search secondary complete (one loop per backend)."""

    def __init__(
        self,
        store: PrimaryStore,
        indexes: Mapping[str, SearchIndex],
        interval_s: float = 2.0,
        catch_up_timeout_s: float = 120.0,
    ) -> None:
        self.store = store
        self.indexes = dict(indexes)
        self.interval_s = interval_s
        self.catch_up_timeout_s = catch_up_timeout_s
        self.status = {backend_id: RepairStatus() for backend_id in self.indexes}
        self._tasks: list[asyncio.Task[None]] = []
        self._admin = TenantContext.of(ADMIN_TENANT)
        self._stalled: dict[str, dict[int, int]] = {}  # positions seen behind, per backend
        self._rebuilds: dict[str, asyncio.Task[None]] = {}

    async def converge(self, backend_id: str) -> bool:
        """One round: True when the index is complete (already, or after this repair)."""
        index, status = self.indexes[backend_id], self.status[backend_id]
        state = await index.index_state(self._admin)
        status.complete, status.generation = state.complete, state.generation
        if state.complete:
            if not await self._stalled_behind(backend_id, state):
                return True
            log.warning(
                "search index %s is stuck behind the primary's stream at %s (events lost): "
                "repairing every tenant",
                backend_id,
                state.positions,
            )
        else:
            log.warning(
                "search index %s is not complete (generation %r, %d gap(s)): "
                "repairing every tenant",
                backend_id,
                state.generation,
                state.gaps,
            )
        status.repairing = True
        try:
            outcome = await self._repair(backend_id, index, state)
        except Exception as exc:
            status.last_outcome, status.last_error = "failed", str(exc) or type(exc).__name__
            INDEX_REPAIRS.labels(backend_id, "failed").inc()
            raise
        finally:
            status.repairing, status.last_repair = False, datetime.now(UTC)
        status.last_outcome, status.last_error = outcome, None
        status.complete = outcome == "complete"
        INDEX_REPAIRS.labels(backend_id, outcome).inc()
        log.info("search index %s repair: %s", backend_id, outcome)
        return status.complete

    async def rebuild_index(self, backend_id: str) -> bool:
        """Zero-downtime rebuild of the whole index: a new generation receives the live
        stream and every tenant's republished resources while the current one answers;
        searches switch to it atomically once it has caught up. True when switched."""
        index, status = self.indexes[backend_id], self.status[backend_id]
        status.repairing = True
        try:
            building = await index.begin_rebuild(self._admin)
            log.info(
                "search index %s: rebuilding into generation %s", backend_id, building.generation
            )
            tenants = await self.store.tenants(self._admin)
            status.tenants = len(tenants)
            for tenant in tenants:
                await reconciler.republish_all(
                    TenantContext.of(tenant), self.store, RepairJob(None)
                )
            deadline = asyncio.get_running_loop().time() + self.catch_up_timeout_s
            for tenant in tenants:
                await self._caught_up(TenantContext.of(tenant), index, deadline)
            switched = await index.finish_rebuild(self._admin, building.generation, building.gaps)
        except Exception as exc:
            status.last_outcome, status.last_error = "failed", str(exc) or type(exc).__name__
            INDEX_REPAIRS.labels(backend_id, "rebuild_failed").inc()
            raise
        finally:
            status.repairing, status.last_repair = False, datetime.now(UTC)
        outcome = "rebuilt" if switched else "rebuild_superseded"
        status.last_outcome, status.last_error = outcome, None
        INDEX_REPAIRS.labels(backend_id, outcome).inc()
        log.info("search index %s rebuild: %s", backend_id, outcome)
        return switched

    def start_rebuild(self, backend_id: str) -> RepairStatus:
        """Run :meth:`rebuild_index` in the background (one at a time per backend)."""
        status = self.status[backend_id]
        running = self._rebuilds.get(backend_id)
        if running is None or running.done():
            self._rebuilds[backend_id] = asyncio.create_task(self._rebuild_quietly(backend_id))
            status.repairing = True
        return status

    async def _rebuild_quietly(self, backend_id: str) -> None:
        try:
            await self.rebuild_index(backend_id)
        except Exception as exc:  # reported in the status; the gateway goes on
            log.warning("search index %s rebuild failed: %s", backend_id, exc)

    async def _stalled_behind(self, backend_id: str, state: IndexState) -> bool:
        """Behind a stream with nothing left to publish, with the same positions as in the
        previous round: the missing events will never arrive."""
        stream = await self.store.stream_positions(self._admin)
        behind = stream.pending == 0 and any(
            state.positions.get(p, 0) < position for p, position in stream.partitions.items()
        )
        if not behind:
            self._stalled.pop(backend_id, None)
            return False
        if self._stalled.get(backend_id) != state.positions:
            self._stalled[backend_id] = dict(state.positions)  # look again next round
            return False
        del self._stalled[backend_id]
        return True

    async def _repair(self, backend_id: str, index: SearchIndex, state: IndexState) -> str:
        tenants = await self.store.tenants(self._admin)
        self.status[backend_id].tenants = len(tenants)
        for tenant in tenants:
            ctx = TenantContext.of(tenant)
            await reconciler.reconcile(ctx, self.store, index, RepairJob(None))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.catch_up_timeout_s
        for tenant in tenants:
            await self._caught_up(TenantContext.of(tenant), index, deadline)
        if await index.mark_complete(self._admin, state.generation, state.gaps):
            return "complete"
        return "superseded"

    async def _caught_up(self, ctx: TenantContext, index: SearchIndex, deadline: float) -> None:
        """Wait until every change of the tenant (the republished ones too) is applied."""
        loop = asyncio.get_running_loop()
        while (positions := await self.store.positions(ctx)).pending > 0:
            if loop.time() >= deadline:
                raise ServiceUnavailable(f"tenant {ctx.tenant}: changes still unpublished")
            await asyncio.sleep(PENDING_POLL_S)
        remaining_ms = max(int((deadline - loop.time()) * 1000), 0)
        if not await index.wait_positions(ctx, positions.partitions, remaining_ms):
            raise ServiceUnavailable(f"tenant {ctx.tenant}: the index did not catch up in time")

    # -- the periodic loop -------------------------------------------------------------

    def start(self) -> None:
        for backend_id in self.indexes:
            self._tasks.append(asyncio.create_task(self._loop(backend_id)))

    async def stop(self) -> None:
        self._tasks += self._rebuilds.values()
        self._rebuilds.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _loop(self, backend_id: str) -> None:
        while True:
            try:
                await self.converge(backend_id)
            except Exception as exc:  # the loop outlives a down backend or primary
                error = str(exc) or type(exc).__name__
                if error != self.status[backend_id].last_error:  # once per distinct error
                    log.warning("convergence of %s: %s", backend_id, error)
                self.status[backend_id].last_error = error
            await asyncio.sleep(self.interval_s)
