"""A walk's fan-out per step, from the graph's stats (kept a while per tenant).

The cost model prices a walk by the candidates it reaches: terminal matches times
the fan-out of each step. The graph's ``stats`` count a tenant's live resources
per type and its references per (source type, parameter, target type), so each
step is priced by its own shape: walking ``Observation.patient`` back from 10
patients with 40 Observations each reaches 400, walking ``Patient.organization``
back from one organization may reach thousands. Counting walks the tenant's whole
graph (seconds at a million resources), so the graph answers with a count up to
``shape_age_s`` old, and a count the ``timeout_s`` bound stopped waiting for finishes
there for the next call; here the stats are kept for ``ttl_s`` seconds per
(backend, tenant). A failing or slow call leaves them unknown until then (the
model assumes one reference per step).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from polyfhir_core.contracts.graph_index import GraphIndex, GraphStats
from polyfhir_core.planning.reference_walks import ReferenceWalk
from polyfhir_core.tenancy import TenantContext

log = logging.getLogger(__name__)


class GraphFanout:
    def __init__(
        self,
        ttl_s: float = 60.0,
        timeout_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        shape_age_s: float = 300.0,
    ) -> None:
        self.ttl_s, self.timeout_s, self._clock = ttl_s, timeout_s, clock
        self.shape_age_s = shape_age_s  # how old a count the graph may answer with
        self._known: dict[tuple[str, str], tuple[GraphStats | None, float]] = {}

    async def stats(
        self, ctx: TenantContext, backend_id: str, graph: GraphIndex
    ) -> GraphStats | None:
        """The tenant's graph stats on ``graph``, at most ``ttl_s`` old (``None``: unknown)."""
        key = (backend_id, ctx.tenant.value)
        now = self._clock()
        held = self._known.get(key)
        if held is not None and held[1] > now:
            return held[0]
        stats: GraphStats | None = None
        try:
            async with asyncio.timeout(self.timeout_s):
                stats = await graph.stats(ctx, max_age_s=self.shape_age_s)
        except Exception as exc:  # unknown: the model assumes one reference per step
            log.debug("graph stats of %s unavailable: %s", backend_id, exc)
        self._known[key] = (stats, now + self.ttl_s)
        return stats

    async def of(
        self,
        ctx: TenantContext,
        backend_id: str,
        graph: GraphIndex,
        walk: ReferenceWalk,
        rtype: str,
    ) -> tuple[float, ...] | None:
        """The fan-out of each level of ``walk`` from its anchors to ``rtype``."""
        stats = await self.stats(ctx, backend_id, graph)
        return None if stats is None or not stats.resources else walk_fanouts(stats, walk, rtype)


def walk_fanouts(stats: GraphStats, walk: ReferenceWalk, rtype: str) -> tuple[float, ...]:
    """Per level, in walking order (from the terminal's anchors towards ``rtype``), the
    resources one resource of the level reaches.

    A chain walks its references backwards: from ``n`` targets, a step reaches
    ``n * references(source->target) / live targets`` sources. ``_has`` walks them
    forwards: from ``n`` sources, ``n * references / live sources`` targets.
    """
    references: dict[tuple[str, str, str], int] = {}
    for link in stats.links:
        shape = (link.source_type, link.param, link.target_type)
        references[shape] = references.get(shape, 0) + link.count
    levels: list[float] = []
    if walk.kind == "chain":
        sources = (rtype, *(step.target_type for step in walk.chain))
        for chained, source in zip(walk.chain, sources, strict=False):
            made = references.get((source, chained.param, chained.target_type), 0)
            levels.append(_per(made, stats.types.get(chained.target_type, 0)))
    else:
        targets = (rtype, *(has.source_type for has in walk.has))
        for has, target in zip(walk.has, targets, strict=False):
            made = references.get((has.source_type, has.param, target), 0)
            levels.append(_per(made, stats.types.get(has.source_type, 0)))
    return tuple(reversed(levels))


def _per(references: int, resources: int) -> float:
    return references / resources if resources else 0.0
