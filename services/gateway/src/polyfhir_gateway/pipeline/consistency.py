"""SyncMode on writes: wait for the secondaries a write must reach before it returns.

Which secondaries: ``CompositeConfig.write_waits_for()`` (synchronous: every
enabled secondary; hybrid: the search backend; asynchronous: none), limited to
those the gateway has a client for. The wait is ``SearchIndex.wait_applied``
for the versions the write produced, bounded by the backend's
``sync.timeout_ms``. On timeout (or an error) the write still stands: the
backend is marked lagging and every affected entry gets a warning issue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from polyfhir_core.config import BackendConfig, CompositeConfig
from polyfhir_core.contracts.primary_store import EntryRequest, EntryResponse, Method
from polyfhir_core.contracts.search_index import AppliedVersion, SearchIndex
from polyfhir_core.errors import Issue
from polyfhir_core.planning import BackendState
from polyfhir_core.resources import Json
from polyfhir_gateway.pipeline.health import HealthMonitor
from polyfhir_gateway.pipeline.metrics import SYNC_WAIT_TIMEOUTS

log = logging.getLogger(__name__)

UNBOUNDED_WAIT_MS = 3_600_000
"""``sync.timeout_ms = null`` waits "without bound": one hour per call in practice."""

_WRITES = frozenset({Method.POST, Method.PUT, Method.PATCH, Method.DELETE})


def written_version(request: EntryRequest, response: EntryResponse) -> AppliedVersion | None:
    """The version a successful write produced (from Location, or URL + ETag for a delete)."""
    if request.method not in _WRITES or not response.ok:
        return None
    if response.location:
        parts = response.location.split("/")
        if len(parts) == 4 and parts[2] == "_history" and parts[3].isdigit():
            return AppliedVersion(parts[0], parts[1], int(parts[3]))
        return None
    etag = (response.etag or "").removeprefix("W/").strip('"')
    target = request.url.split("?", 1)[0].split("/")
    if request.method is Method.DELETE and len(target) == 2 and etag.isdigit():
        return AppliedVersion(target[0], target[1], int(etag))
    return None  # nothing written (e.g. a delete of nothing) or a conditional delete


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
        indexes: Mapping[str, SearchIndex],
        monitor: HealthMonitor | None,
    ) -> None:
        self.config = config
        self.monitor = monitor
        self.backends = [b for b in config.write_waits_for() if b.id in indexes]
        self.indexes = dict(indexes)
        for skipped in config.write_waits_for():
            if skipped.id not in indexes:
                log.warning(
                    "writes cannot wait for %s: the gateway has no client for it", skipped.id
                )

    @property
    def active(self) -> bool:
        return bool(self.backends)

    async def wait(
        self, tenant: str, requests: Sequence[EntryRequest], responses: Sequence[EntryResponse]
    ) -> list[Issue]:
        """Wait for every synchronous backend; the warnings for backends that fell behind."""
        if not self.backends:
            return []
        versions = [
            v
            for q, r in zip(requests, responses, strict=True)
            if (v := written_version(q, r)) is not None
        ]
        if not versions:
            return []
        results = await asyncio.gather(*(self._one(b, tenant, versions) for b in self.backends))
        return [issue for issue in results if issue is not None]

    async def _one(
        self, backend: BackendConfig, tenant: str, versions: list[AppliedVersion]
    ) -> Issue | None:
        timeout_ms = self.config.sync_for(backend).timeout_ms
        if self.monitor is not None and self.monitor.state(backend.id) is BackendState.UNHEALTHY:
            return sync_warning(backend, timeout_ms, "unhealthy")
        bound = timeout_ms if timeout_ms is not None else UNBOUNDED_WAIT_MS
        error: str | None = None
        try:
            # The call itself may hang (network): bound it a little above the server-side wait.
            async with asyncio.timeout(bound / 1000 + 1.0):
                applied = await self.indexes[backend.id].wait_applied(tenant, versions, bound)
        except TimeoutError:
            applied = False
        except Exception as exc:  # timeout or transport error: the write still stands
            applied, error = False, str(exc) or type(exc).__name__
        if applied:
            return None
        SYNC_WAIT_TIMEOUTS.labels(backend.id).inc()
        if self.monitor is not None:
            self.monitor.mark_lagging(backend.id, tenant, versions)
        return sync_warning(backend, timeout_ms, error)
