"""Compare ``(type, id, version)`` between the primary and a search index, and repair.

**Reconcile** walks both sides in ``(type, id)`` order at once (a merge join over
``PrimaryStore.list_versions`` and ``SearchIndex.scan`` pages, so neither side
is held in memory) and repairs each difference through the normal event path:

- the primary has a resource the index lacks, or holds at an older version
  (or live where the primary deleted it) → ``republish``: the relay sends the
  current version again and the indexer applies it (version-guarded, so a
  repair racing a newer write is harmless);
- the index holds a key the primary has never heard of → ``remove``, after a
  fresh look at the primary so a resource created during the walk survives.

An index entry *newer* than the primary's page is a write that landed during
the walk, not drift: it is left alone.

**Rebuild** drops the tenant's entries and republishes every current resource.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

from polyfhir_core.resources import ResourceKey
from polyfhir_core.search_index import IndexedVersion, SearchIndex
from polyfhir_core.store import PrimaryStore, ResourceVersion
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.repair.jobs import RepairJob

PAGE = 500


class _Keyed(Protocol):
    @property
    def resource_type(self) -> str: ...

    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Keyed)


def _order(item: _Keyed) -> tuple[str, str]:
    return (item.resource_type, item.id)


async def _paged(
    fetch: Callable[[ResourceKey | None, int], Awaitable[list[T]]],
) -> AsyncIterator[T]:
    after: ResourceKey | None = None
    while True:
        page = await fetch(after, PAGE)
        for item in page:
            yield item
        if len(page) < PAGE:
            return
        after = ResourceKey(page[-1].resource_type, page[-1].id)


class _Repairs:
    """Collects repairs and applies them in batches."""

    def __init__(self, ctx: TenantContext, store: PrimaryStore, index: SearchIndex, job: RepairJob):
        self.ctx, self.store, self.index, self.job = ctx, store, index, job
        self.republish: list[ResourceKey] = []
        self.orphans: list[ResourceKey] = []

    async def flush(self, *, force: bool = False) -> None:
        if self.republish and (force or len(self.republish) >= PAGE):
            self.job.progress.republished += await self.store.republish(self.ctx, self.republish)
            self.republish = []
        if self.orphans and (force or len(self.orphans) >= PAGE):
            live = {r.key for r in await self.store.read_many(self.ctx, self.orphans)}
            gone = [key for key in self.orphans if key not in live]
            if gone:
                self.job.progress.orphans += await self.index.remove(self.ctx.tenant.value, gone)
            self.orphans = []

    def compare(self, primary: ResourceVersion, held: IndexedVersion | None) -> None:
        if held is None:
            if not primary.deleted:
                self.job.progress.missing += 1
                self.republish.append(primary.key)
        elif held.version < primary.version:
            self.job.progress.stale += 1
            self.republish.append(primary.key)


async def reconcile(
    ctx: TenantContext, store: PrimaryStore, index: SearchIndex, job: RepairJob
) -> None:
    tenant = ctx.tenant.value
    repairs = _Repairs(ctx, store, index, job)
    primary_rows = _paged(lambda after, n: store.list_versions(ctx, after, n))
    index_rows = _paged(lambda after, n: index.scan(tenant, after, n))
    p = await anext(primary_rows, None)
    i = await anext(index_rows, None)
    while p is not None or i is not None:
        if i is None or (p is not None and _order(p) < _order(i)):
            assert p is not None
            repairs.compare(p, None)
            job.progress.compared += 1
            p = await anext(primary_rows, None)
        elif p is None or _order(i) < _order(p):
            repairs.orphans.append(ResourceKey(i.resource_type, i.id))
            job.progress.index_entries += 1
            i = await anext(index_rows, None)
        else:
            repairs.compare(p, i)
            job.progress.compared += 1
            job.progress.index_entries += 1
            p, i = await anext(primary_rows, None), await anext(index_rows, None)
        await repairs.flush()
    await repairs.flush(force=True)


async def rebuild(
    ctx: TenantContext, store: PrimaryStore, index: SearchIndex, job: RepairJob
) -> None:
    job.progress.removed = await index.drop_tenant(ctx.tenant.value)
    batch: list[ResourceKey] = []
    async for row in _paged(lambda after, n: store.list_versions(ctx, after, n)):
        job.progress.compared += 1
        if not row.deleted:
            batch.append(row.key)
        if len(batch) >= PAGE:
            job.progress.republished += await store.republish(ctx, batch)
            batch = []
    if batch:
        job.progress.republished += await store.republish(ctx, batch)
