"""An in-memory SearchIndex test double whose behaviour a test switches (fail, hang, lag)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from polyfhir_core.contracts.search_index import (
    IndexState,
    IndexStats,
    TextHit,
    TextHits,
    TextSearch,
)
from polyfhir_core.contracts.secondary import AppliedVersion, IndexedVersion
from polyfhir_core.errors import IndexNotFresh, ServiceUnavailable
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext


@dataclass
class FakeSearchIndex:
    """Documents are word lists added by the test; a clause matches when every word of
    one of its values occurs; the score is how often the query words occur."""

    docs: dict[str, dict[ResourceKey, tuple[int, list[str]]]] = field(default_factory=dict)
    failure: Exception | None = None  # raised by search_text
    hang: bool = False  # search_text never answers
    ready_error: Exception | None = None  # raised by check_ready
    applied: bool = True  # what wait_applied answers
    applied_positions: dict[int, int] = field(default_factory=dict)
    requests: list[TextSearch] = field(default_factory=list)
    generation: str = "g1"
    complete: bool = True  # False: the index cannot prove it holds everything
    gaps: int = 0
    completions: list[tuple[str, int]] = field(default_factory=list)  # mark_complete calls
    building: str = ""  # the generation a zero-downtime rebuild is filling
    waited: list[tuple[str, list[AppliedVersion], int]] = field(default_factory=list)

    def add(self, tenant: str, rtype: str, rid: str, text: str, version: int = 1) -> None:
        self.docs.setdefault(tenant, {})[ResourceKey(rtype, rid)] = (version, text.lower().split())

    async def search_text(self, ctx: TenantContext, request: TextSearch) -> TextHits:
        self.requests.append(request)
        if self.hang:
            await asyncio.Event().wait()
        if self.failure is not None:
            raise self.failure
        if not self.complete:
            raise IndexNotFresh("the search index is not complete")
        hits = []
        for key, (_, words) in self.docs.get(ctx.tenant.value, {}).items():
            if request.resource_types and key.resource_type not in request.resource_types:
                continue
            score = _score(words, request)
            if score:
                hits.append(TextHit(key.resource_type, key.id, float(score)))
        hits.sort(key=lambda h: (-h.score, h.resource_type, h.id))
        return TextHits(tuple(hits[: request.limit]), len(hits))

    async def positions(self, ctx: TenantContext) -> dict[int, int]:
        return dict(self.applied_positions)

    async def wait_applied(
        self, ctx: TenantContext, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool:
        self.waited.append((ctx.tenant.value, list(versions), timeout_ms))
        return self.applied

    async def wait_positions(
        self, ctx: TenantContext, positions: dict[int, int], timeout_ms: int
    ) -> bool:
        return all(self.applied_positions.get(p, -1) >= v for p, v in positions.items())

    async def versions(self, ctx: TenantContext, keys: list[ResourceKey]) -> list[IndexedVersion]:
        held = self.docs.get(ctx.tenant.value, {})
        return [IndexedVersion(k.resource_type, k.id, held[k][0]) for k in keys if k in held]

    async def scan(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        return []

    async def remove(self, ctx: TenantContext, keys: list[ResourceKey]) -> int:
        return 0

    async def drop_tenant(self, ctx: TenantContext) -> int:
        return len(self.docs.pop(ctx.tenant.value, {}))

    async def stats(self, ctx: TenantContext) -> IndexStats:
        return IndexStats(len(self.docs.get(ctx.tenant.value, {})), 0, dict(self.applied_positions))

    async def index_state(self, ctx: TenantContext) -> IndexState:
        return IndexState(self.generation, self.complete, self.gaps, dict(self.applied_positions))

    async def mark_complete(self, ctx: TenantContext, generation: str, gaps: int) -> bool:
        self.completions.append((generation, gaps))
        if (generation, gaps) != (self.generation, self.gaps):
            return False
        self.complete = True
        return True

    async def begin_rebuild(self, ctx: TenantContext) -> IndexState:
        self.building = self.building or f"{self.generation}+1"
        return IndexState(self.building, False, 0, {})

    async def finish_rebuild(self, ctx: TenantContext, generation: str, gaps: int) -> bool:
        if generation != self.building or gaps != 0:
            return False
        self.generation, self.building, self.complete = generation, "", True
        return True

    async def check_ready(self) -> None:
        if self.ready_error is not None:
            raise self.ready_error


def _score(words: list[str], request: TextSearch) -> int:
    total = 0
    for clause in request.clauses:
        best = 0
        for value in clause.values:
            wanted = value.lower().split()
            if all(w in words for w in wanted):
                best = max(best, sum(words.count(w) for w in wanted))
        if not best:
            return 0
        total += best
    return total


DOWN = ServiceUnavailable("search engine down")
