"""Compare ``(type, id, version)`` between the primary and a search index, and repair.

**Reconcile** makes two passes, each paging through one side in that side's own
order (so neither side is held in memory and the two engines need not agree
on a collation):

1. every resource of the primary (``PrimaryStore.list_versions``) against what
   the index holds for the page (``SearchIndex.versions``): missing, older, or
   live where the primary deleted it → ``republish``. The relay sends the current
   version again and the indexer applies it, version-guarded, so a repair racing
   a newer write is harmless. An index entry *newer* than the primary's page is a
   write that landed during the walk, not drift: it is left alone;
2. every live entry of the index (``SearchIndex.scan``) against the primary's live
   resources (``read_many``, read fresh): an entry the primary does not hold live
   is ``remove``d, so a resource created during the walk survives.

**Rebuild** rewrites every current resource of the tenant *in place*: it
republishes every live resource (the indexer writes the same version again,
``external_gte``, with today's analysis), then removes the live entries the
primary does not hold live (the reconcile's second pass). It never drops the
tenant's entries first, so a search during a rebuild counts every resource:
the old document answers until its rewrite replaces it (issue 12: a rebuild
that dropped first showed totals of 1000 to 2830 out of 3000 while it ran).

Both run as durable jobs (``repair/jobs.py``) and save their counters after every
page. Reconcile also saves a checkpoint (the pass and the last key of the page,
whose repairs are applied before the save), from which a restarted reconcile
continues.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from polyfhir_core.contracts.primary_store import PrimaryStore, ResourceVersion
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.resources import ResourceKey
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.pipeline.secondary import Repairable
from polyfhir_gateway.repair.jobs import RepairJob

PAGE = 500


class _Keyed(Protocol):
    @property
    def resource_type(self) -> str: ...

    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Keyed)


class _Repairs:
    """Collects repairs and applies them in batches."""

    def __init__(self, ctx: TenantContext, store: PrimaryStore, index: Repairable, job: RepairJob):
        self.ctx, self.store, self.index, self.job = ctx, store, index, job
        self.republish: list[ResourceKey] = []

    async def compare(self, page: list[ResourceVersion]) -> None:
        held = {
            (v.resource_type, v.id): v
            for v in await self.index.versions(self.ctx, [r.key for r in page])
        }
        for row in page:
            entry = held.get((row.resource_type, row.id))
            if entry is None:
                if not row.deleted:
                    self.job.progress.missing += 1
                    self.republish.append(row.key)
            elif entry.version < row.version:
                self.job.progress.stale += 1
                self.republish.append(row.key)
        self.job.progress.compared += len(page)
        await self.flush()

    async def remove_orphans(self, page: list[IndexedVersion]) -> None:
        self.job.progress.index_entries += len(page)
        candidates = [ResourceKey(e.resource_type, e.id) for e in page if not e.deleted]
        if not candidates:
            return
        live = {r.key for r in await self.store.read_many(self.ctx, candidates)}
        gone = [key for key in candidates if key not in live]
        if gone:
            self.job.progress.orphans += await self.index.remove(self.ctx, gone)

    async def flush(self, *, force: bool = False) -> None:
        if self.republish and (force or len(self.republish) >= PAGE):
            self.job.progress.republished += await self.store.republish(self.ctx, self.republish)
            self.republish = []


async def _pages(
    fetch: Callable[[ResourceKey | None, int], Awaitable[list[T]]],
    after: ResourceKey | None = None,
) -> AsyncIterator[list[T]]:
    while True:
        page = await fetch(after, PAGE)
        if page:
            yield page
        if len(page) < PAGE:
            return
        after = ResourceKey(page[-1].resource_type, page[-1].id)


PRIMARY_PASS, INDEX_PASS = "primary", "index"


def _mark(phase: str, last: _Keyed) -> dict[str, Any]:
    return {"phase": phase, "after": [last.resource_type, last.id]}


def _resume(checkpoint: dict[str, Any] | None) -> tuple[str, ResourceKey | None]:
    """(pass, key after which it continues) from a saved checkpoint."""
    if not checkpoint:
        return PRIMARY_PASS, None
    after = checkpoint.get("after")
    key = ResourceKey(str(after[0]), str(after[1])) if after else None
    return str(checkpoint.get("phase", PRIMARY_PASS)), key


async def reconcile(
    ctx: TenantContext, store: PrimaryStore, index: Repairable, job: RepairJob
) -> None:
    repairs = _Repairs(ctx, store, index, job)
    phase, after = _resume(job.checkpoint)
    if phase == PRIMARY_PASS:
        async for rows in _pages(lambda a, n: store.list_versions(ctx, a, n), after):
            await repairs.compare(rows)
            await repairs.flush(force=True)  # what the checkpoint passes is repaired
            await job.save(_mark(PRIMARY_PASS, rows[-1]))
        await repairs.flush(force=True)
        after = None
    async for entries in _pages(lambda a, n: index.scan(ctx, a, n), after):
        await repairs.remove_orphans(entries)
        await job.save(_mark(INDEX_PASS, entries[-1]))


async def republish_all(ctx: TenantContext, store: PrimaryStore, job: RepairJob) -> None:
    """Put every live resource of the tenant in the stream again."""
    async for rows in _pages(lambda after, n: store.list_versions(ctx, after, n)):
        job.progress.compared += len(rows)
        live = [row.key for row in rows if not row.deleted]
        if live:
            job.progress.republished += await store.republish(ctx, live)
        await job.save()


async def rebuild(
    ctx: TenantContext, store: PrimaryStore, index: Repairable, job: RepairJob
) -> None:
    await republish_all(ctx, store, job)
    repairs = _Repairs(ctx, store, index, job)
    async for entries in _pages(lambda after, n: index.scan(ctx, after, n)):
        await repairs.remove_orphans(entries)
        await job.save()
    job.progress.removed = job.progress.orphans
