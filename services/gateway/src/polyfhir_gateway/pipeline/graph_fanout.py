"""A graph's average fan-out per tenant (references per live resource), from its stats.

The cost model prices a walk by the candidates it reaches: terminal matches
times the fan-out per step. The graph's ``stats`` count a tenant's nodes and
edges, which is not free on a large graph, so the ratio is kept for
``ttl_s`` seconds per (backend, tenant); a failing or slow stats call leaves
it unknown (the model then assumes 1 reference per step).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from polyfhir_core.contracts.graph_index import GraphIndex
from polyfhir_core.tenancy import TenantContext

log = logging.getLogger(__name__)


class GraphFanout:
    def __init__(
        self,
        ttl_s: float = 60.0,
        timeout_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.timeout_s, self._clock = ttl_s, timeout_s, clock
        self._known: dict[tuple[str, str], tuple[float | None, float]] = {}

    async def of(self, ctx: TenantContext, backend_id: str, graph: GraphIndex) -> float | None:
        """References per live resource of the tenant on ``graph`` (``None``: unknown)."""
        key = (backend_id, ctx.tenant.value)
        now = self._clock()
        held = self._known.get(key)
        if held is not None and held[1] > now:
            return held[0]
        fanout: float | None = None
        try:
            async with asyncio.timeout(self.timeout_s):
                stats = await graph.stats(ctx)
            fanout = stats.references / stats.resources if stats.resources else None
        except Exception as exc:  # unknown: the model assumes one reference per step
            log.debug("graph stats of %s unavailable: %s", backend_id, exc)
        self._known[key] = (fanout, now + self.ttl_s)
        return fanout
