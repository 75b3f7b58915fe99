"""The health monitor: periodic readiness checks of each secondary, with hysteresis.

States (see :class:`polyfhir_core.planning.BackendState`):

- ``healthy``; ``unhealthy`` after ``failure_threshold`` consecutive failed
  checks, healthy again after ``success_threshold`` consecutive successes;
- ``lagging``: a synchronous write wait timed out. The versions it waited for
  are remembered per tenant; each check asks the backend (without waiting)
  whether it has applied them, and the state clears once it has.

Unhealthy and lagging secondaries are bypassed by the router. Backends start
healthy: a request that meets a failing backend falls back on its own anyway.

Standbys (a secondary's ``failover``, usually ``enabled = false``) are checked
as well: while a secondary is unusable and its standby is healthy, the standby
is *promoted* — it serves the role's queries and SyncMode waits
(:meth:`HealthMonitor.serving`) — and it is demoted again as soon as the
original is healthy (after ``success_threshold`` successes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from polyfhir_core.config import BackendConfig, CompositeConfig
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.planning import BackendState
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline.metrics import set_backend_state, set_promotion
from polyfhir_gateway.pipeline.secondary import Secondary

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Track:
    backend: BackendConfig
    healthy: bool = True
    failures: int = 0
    successes: int = 0
    last_error: str | None = None
    last_check: datetime | None = None
    pending: dict[str, list[AppliedVersion]] = field(default_factory=dict)  # lagging writes

    @property
    def state(self) -> BackendState:
        if not self.healthy:
            return BackendState.UNHEALTHY
        return BackendState.LAGGING if self.pending else BackendState.HEALTHY


class HealthMonitor:
    """Tracks every enabled secondary, and every standby, that has a client in ``indexes``."""

    def __init__(self, config: CompositeConfig, indexes: Mapping[str, Secondary]) -> None:
        self.config = config
        self.indexes = dict(indexes)
        watched = (*config.secondaries, *config.standbys)
        self._tracks = {b.id: _Track(b) for b in watched if b.id in self.indexes}
        self._tasks: list[asyncio.Task[None]] = []
        self._promoted: dict[str, str] = {}
        for backend_id in self._tracks:
            set_backend_state(backend_id, BackendState.HEALTHY)

    def state(self, backend_id: str) -> BackendState:
        track = self._tracks.get(backend_id)
        return track.state if track is not None else BackendState.HEALTHY

    def snapshot(self) -> dict[str, BackendState]:
        """Every tracked backend's state; a standby without a client is never promoted."""
        states = {s.id: BackendState.UNHEALTHY for s in self.config.standbys}
        states.update({backend_id: track.state for backend_id, track in self._tracks.items()})
        return states

    def serving(self, backend: BackendConfig) -> BackendConfig | None:
        """Who serves ``backend``'s role now: itself when usable, else its usable standby
        (promoted), else nobody (the primary answers)."""
        if self.state(backend.id).usable:
            return backend
        standby = self.config.standby_of(backend)
        if standby is not None and standby.id in self._tracks and self.state(standby.id).usable:
            return standby
        return None

    def promotions(self) -> dict[str, str]:
        """``original -> standby`` for every standby serving now."""
        out = {}
        for backend in self.config.secondaries:
            serving = self.serving(backend)
            if serving is not None and serving.id != backend.id:
                out[backend.id] = serving.id
        return out

    def mark_lagging(self, backend_id: str, tenant: str, versions: list[AppliedVersion]) -> None:
        """A synchronous wait timed out: bypass the backend until it has applied ``versions``."""
        track = self._tracks.get(backend_id)
        if track is None or not versions:
            return
        track.pending.setdefault(tenant, []).extend(versions)
        self._publish(track)

    async def check(self, backend_id: str) -> BackendState:
        """One check of one backend (what the periodic loop runs)."""
        track = self._tracks[backend_id]
        settings = self.config.health_for(track.backend)
        index = self.indexes[backend_id]
        track.last_check = datetime.now(UTC)
        try:
            async with asyncio.timeout(settings.timeout_ms / 1000):
                await index.check_ready()
        except Exception as exc:  # any failure of the check counts
            track.last_error = str(exc) or type(exc).__name__
            track.failures, track.successes = track.failures + 1, 0
            if track.healthy and track.failures >= settings.failure_threshold:
                track.healthy = False
                log.warning("backend %s unhealthy: %s", backend_id, track.last_error)
        else:
            track.successes, track.failures = track.successes + 1, 0
            if not track.healthy and track.successes >= settings.success_threshold:
                track.healthy = True
                log.info("backend %s healthy again", backend_id)
            if track.healthy:
                await self._clear_caught_up(track, index, settings.timeout_ms)
        self._publish(track)
        return track.state

    async def check_all(self) -> dict[str, BackendState]:
        for backend_id in self._tracks:
            await self.check(backend_id)
        return self.snapshot()

    async def _clear_caught_up(self, track: _Track, index: Secondary, timeout_ms: int) -> None:
        for tenant, versions in list(track.pending.items()):
            try:
                async with asyncio.timeout(timeout_ms / 1000):
                    applied = await index.wait_applied(TenantContext.of(tenant), versions, 0)
            except Exception:  # still lagging as far as we can tell
                log.debug("lag check of %s failed", track.backend.id, exc_info=True)
                return
            if applied:
                del track.pending[tenant]

    def _publish(self, track: _Track) -> None:
        set_backend_state(track.backend.id, track.state)
        promoted = self.promotions()
        for original, standby in promoted.items():
            if self._promoted.get(original) != standby:
                log.warning("backend %s unavailable: standby %s promoted", original, standby)
                set_promotion(original, standby, active=True)
        for original, standby in self._promoted.items():
            if promoted.get(original) != standby:
                log.info("backend %s serves again: standby %s demoted", original, standby)
                set_promotion(original, standby, active=False)
        self._promoted = promoted

    # -- the periodic loop -------------------------------------------------------------

    def start(self) -> None:
        for backend_id, track in self._tracks.items():
            interval = self.config.health_for(track.backend).check_interval_ms / 1000
            self._tasks.append(asyncio.create_task(self._loop(backend_id, interval)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _loop(self, backend_id: str, interval: float) -> None:
        while True:
            try:
                await self.check(backend_id)
            except Exception:  # the monitor must outlive any bug in one check
                log.exception("health check of %s failed unexpectedly", backend_id)
            await asyncio.sleep(interval)

    def to_json(self) -> list[dict[str, Any]]:
        """What ``GET /admin/backends`` shows for the secondaries."""
        out = []
        for backend_id, track in self._tracks.items():
            out.append(
                {
                    "id": backend_id,
                    "role": track.backend.role.value,
                    "kind": track.backend.kind.value,
                    "state": track.state.value,
                    "consecutiveFailures": track.failures,
                    "consecutiveSuccesses": track.successes,
                    "lastError": track.last_error,
                    "lastCheck": track.last_check.isoformat() if track.last_check else None,
                    "laggingTenants": sorted(track.pending),
                    **self._roles(backend_id),
                }
            )
        return out

    def _roles(self, backend_id: str) -> dict[str, Any]:
        """Promotion fields: ``promotedTo`` on an original, ``servingFor`` on a standby."""
        promoted = self.promotions()
        out: dict[str, Any] = {}
        if backend_id in promoted:
            out["promotedTo"] = promoted[backend_id]
        serving_for = [o for o, s in promoted.items() if s == backend_id]
        if serving_for:
            out["servingFor"] = serving_for
        return out
