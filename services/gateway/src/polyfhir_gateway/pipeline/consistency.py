"""Waiting for a secondary: after a write (SyncMode) and before a read (read lag).

**Writes** (:class:`WriteSync`). Which secondaries:
``CompositeConfig.write_waits_for()`` (synchronous: every enabled secondary;
hybrid: the search backend; asynchronous: none), limited to those the gateway
has a client for. The wait is ``SearchIndex.wait_applied``
for the versions the write produced, bounded by the backend's
``sync.timeout_ms``. On timeout (or an error) the write still stands: the
backend is marked lagging and every affected entry gets a warning issue. The
versions come from the primary as data (``EntryResponse.written``).

**Reads** (:func:`read_lag_bound`, :func:`is_fresh`). Unless a backend is
written synchronously, a search uses it only once it has applied the tenant's
last change, waiting up to ``sync.max_read_lag_ms`` for it: the primary's
``positions`` for the tenant are compared with (or waited for on) the
secondary's applied positions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from polyfhir_core.config import BackendConfig, CompositeConfig, SyncConfig
from polyfhir_core.contracts.primary_store import EntryResponse, PrimaryStore
from polyfhir_core.contracts.secondary import AppliedVersion
from polyfhir_core.errors import Issue
from polyfhir_core.planning import BackendState
from polyfhir_core.resources import Json
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline.health import HealthMonitor
from polyfhir_gateway.pipeline.metrics import SYNC_WAIT_TIMEOUTS
from polyfhir_gateway.pipeline.secondary import Secondary

log = logging.getLogger(__name__)

UNBOUNDED_WAIT_MS = 3_600_000
"""``sync.timeout_ms = null`` waits "without bound": one hour per call in practice."""


def written_version(response: EntryResponse) -> AppliedVersion | None:
    """The version a successful write produced (``None``: the entry wrote nothing)."""
    w = response.written
    if w is None or not response.ok:
        return None
    return AppliedVersion(w.resource_type, w.id, w.version)


def sync_warning(backend: BackendConfig, timeout_ms: int | None, error: str | None) -> Issue:
    why = f"failed ({error})" if error else f"did not confirm it within {timeout_ms} ms"
    if error == "unhealthy":
        why = "is unhealthy and was not waited for"
    return Issue(
        code="timeout",
        severity="warning",
        diagnostics=(
            f"the write is committed, but the {backend.role.value} backend {backend.id} {why}; "
            f"searches it serves may not reflect this write yet"
        ),
    )


def with_warnings(outcome: Json | None, issues: Sequence[Issue]) -> Json:
    """``outcome`` (or a new OperationOutcome) with ``issues`` appended."""
    base: dict[str, Any] = dict(outcome) if outcome else {"resourceType": "OperationOutcome"}
    base["issue"] = [*base.get("issue", []), *(i.to_json() for i in issues)]
    return base


class WriteSync:
    """Runs the waits after a write and reports what did not arrive in time."""

    def __init__(
        self,
        config: CompositeConfig,
        indexes: Mapping[str, Secondary],
        monitor: HealthMonitor | None,
    ) -> None:
        self.config = config
        self.monitor = monitor
        self.backends = [b for b in config.write_waits_for() if b.id in indexes]
        # a standby promoted in place of one of these takes its waits (same role)
        self.indexes = dict(indexes)
        for skipped in config.write_waits_for():
            if skipped.id not in indexes:
                log.warning(
                    "writes cannot wait for %s: the gateway has no client for it", skipped.id
                )

    @property
    def active(self) -> bool:
        return bool(self.backends)

    async def wait(self, ctx: TenantContext, responses: Sequence[EntryResponse]) -> list[Issue]:
        """Wait for every synchronous backend; the warnings for backends that fell behind."""
        if not self.backends:
            return []
        versions = [v for r in responses if (v := written_version(r)) is not None]
        if not versions:
            return []
        waited = [self._serving(b) for b in self.backends]
        results = await asyncio.gather(*(self._one(b, ctx, versions) for b in waited))
        return [issue for issue in results if issue is not None]

    def _serving(self, backend: BackendConfig) -> BackendConfig:
        """``backend``, or its promoted standby while it is unavailable (failover)."""
        if self.monitor is None:
            return backend
        serving = self.monitor.serving(backend)
        if serving is None or serving.id not in self.indexes:
            return backend  # nobody to wait for: the warning says it is unhealthy
        return serving

    async def _one(
        self, backend: BackendConfig, ctx: TenantContext, versions: list[AppliedVersion]
    ) -> Issue | None:
        timeout_ms = self.config.sync_for(backend).timeout_ms
        if self.monitor is not None and self.monitor.state(backend.id) is BackendState.UNHEALTHY:
            return sync_warning(backend, timeout_ms, "unhealthy")
        bound = timeout_ms if timeout_ms is not None else UNBOUNDED_WAIT_MS
        error: str | None = None
        try:
            # The call itself may hang (network): bound it a little above the server-side wait.
            async with asyncio.timeout(bound / 1000 + 1.0):
                applied = await self.indexes[backend.id].wait_applied(ctx, versions, bound)
        except TimeoutError:
            applied = False
        except Exception as exc:  # timeout or transport error: the write still stands
            applied, error = False, str(exc) or type(exc).__name__
        if applied:
            return None
        SYNC_WAIT_TIMEOUTS.labels(backend.id).inc()
        if self.monitor is not None:
            self.monitor.mark_lagging(backend.id, ctx.tenant.value, versions)
        return sync_warning(backend, timeout_ms, error)


def read_lag_bound(sync: SyncConfig, backend: BackendConfig) -> int | None:
    """How long a read may wait for ``backend`` to apply the tenant's last change;
    ``None``: freshness is not checked (the writes wait for the backend, or
    ``max_read_lag_ms`` is null and stale reads are accepted)."""
    if sync.waits_for(backend.role):
        return None
    return sync.max_read_lag_ms


async def is_fresh(
    ctx: TenantContext, store: PrimaryStore, index: Secondary, max_lag_ms: int
) -> bool:
    """Has ``index`` applied the tenant's last change? Waits up to ``max_lag_ms`` for it
    (0: answer at once)."""
    positions = await store.positions(ctx)
    if positions.pending > 0:
        return False  # changes not even published yet: no secondary has them
    if not positions.partitions:
        return True
    if max_lag_ms == 0:
        applied = await index.positions(ctx)
        return all(applied.get(p, -1) >= pos for p, pos in positions.partitions.items())
    return await index.wait_positions(ctx, positions.partitions, max_lag_ms)
