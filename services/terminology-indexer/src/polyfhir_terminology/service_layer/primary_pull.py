"""The terminology index of the one-process default (``polyfhir run``, no Kafka).

There is no change stream to consume, so before answering a call for a tenant
the index asks the primary one cheap question: the tenant's
:class:`~polyfhir_core.contracts.primary_store.TypeGeneration` of CodeSystem,
ValueSet and ConceptMap (how many versions of them were written, and the highest
sequence). Only when it differs from the one seen at the last pull does it *pull*
that tenant's changes (``PrimaryStore.snapshot`` of each type, only what changed
since the last pull, deletes included as tombstones) and apply them exactly as the
consumer would (version-guarded, into the same store). A version the store
already holds is not written again, so the first pull after a restart re-reads
the definitions but rewrites none. Pulls of one tenant are serialised; each
looks back ``overlap_s`` before the previous one started, so a write committed
late with an earlier ``lastUpdated`` is not missed (applying it twice is a no-op).

The answer is then the :class:`TerminologyService`'s: every call of the contract
is delegated after the pull, so both topologies answer identically. ``$lookup``,
``$validate-code`` and ``$subsumes`` answers are kept per process by
``(tenant, generation, request)`` (:mod:`.answer_cache`): the same question asked
again while no definition changed is answered without the store.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from polyfhir_bus.events import ChangeKind, ResourceChanged
from polyfhir_core.contracts.primary_store import PrimaryStore, SnapshotQuery, TypeGeneration
from polyfhir_core.contracts.secondary import AppliedVersion, IndexedVersion
from polyfhir_core.contracts.terminology import (
    CodeSet,
    CodeSetRequest,
    ExpandRequest,
    Expansion,
    LookupRequest,
    LookupResult,
    SubsumesRequest,
    Subsumption,
    TerminologyStats,
    TranslateRequest,
    TranslateResult,
    ValidateCodeRequest,
    ValidateCodeResult,
)
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.tenancy import TenantContext
from polyfhir_terminology.domain.items import TERMINOLOGY_TYPES, item_for
from polyfhir_terminology.service_layer.answer_cache import AnswerCache
from polyfhir_terminology.service_layer.ports import TerminologyStore
from polyfhir_terminology.service_layer.terminology_service import TerminologyService

PAGE = 200
WATCHED = sorted(TERMINOLOGY_TYPES)
_AS_OF_AHEAD = timedelta(days=1)  # as of "later than anything written": current versions


def _event(stored: StoredResource) -> ResourceChanged:
    kind = ChangeKind.DELETED if stored.deleted else ChangeKind.UPDATED
    return ResourceChanged(
        stored.tenant.value,
        stored.resource_type,
        stored.id,
        stored.version,
        kind,
        stored.last_updated,
        None if stored.deleted else stored.content,
    )


class PrimaryPull:
    """Brings one tenant's definitions from the primary into the store."""

    def __init__(
        self, primary: PrimaryStore, store: TerminologyStore, overlap_s: float = 5.0
    ) -> None:
        self._primary = primary
        self._store = store
        self._overlap = timedelta(seconds=overlap_s)
        self._since: dict[str, datetime] = {}
        self._pulled: dict[str, TypeGeneration] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def forget(self, tenant: str) -> None:
        """The store lost the tenant's definitions: the next pull reads them all again."""
        self._since.pop(tenant, None)
        self._pulled.pop(tenant, None)

    async def generation(self, tenant: str) -> TypeGeneration:
        """The primary's generation of the tenant's definitions (one statement)."""
        ctx = TenantContext.of(tenant)  # the index's own read, not the caller's
        return await self._primary.type_generation(ctx, WATCHED)

    async def pull(self, tenant: str) -> TypeGeneration:
        """Apply what changed in the primary since the last pull, when anything did; the
        generation the store is now at least as new as."""
        seen = await self.generation(tenant)
        if self._pulled.get(tenant) == seen:
            return seen
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            seen = await self.generation(tenant)  # read before pulling: a write after it
            if self._pulled.get(tenant) != seen:  # moves it again, so the next call pulls
                await self._pull_changes(tenant)
                self._pulled[tenant] = seen
            return seen

    async def _pull_changes(self, tenant: str) -> int:
        started = datetime.now(UTC)
        since = self._since.get(tenant)
        written = 0
        for resource_type in WATCHED:
            written += await self._pull_type(tenant, resource_type, started, since)
        self._since[tenant] = started - self._overlap
        return written

    async def _pull_type(
        self, tenant: str, resource_type: str, started: datetime, since: datetime | None
    ) -> int:
        ctx = TenantContext.of(tenant)  # the index's own read, not the caller's
        after: str | None = None
        written = 0
        while True:
            query = SnapshotQuery(
                resource_type, started + _AS_OF_AHEAD, since=since, after_id=after, limit=PAGE
            )
            page = await self._primary.snapshot(ctx, query)
            written += await self._apply(tenant, page.resources)
            if page.next_after is None:
                return written
            after = page.next_after

    async def _apply(self, tenant: str, resources: list[StoredResource]) -> int:
        if not resources:
            return 0
        held = {
            (v.resource_type, v.id): v.version
            for v in await self._store.versions(tenant, [r.key for r in resources])
        }
        newer = [r for r in resources if held.get((r.resource_type, r.id), 0) < r.version]
        items = await asyncio.to_thread(lambda: [item_for(_event(r)) for r in newer])
        await self._store.apply(items)
        return len(items)


class PulledTerminology:
    """A :class:`~polyfhir_core.contracts.terminology.TerminologyIndex` in the gateway's
    process: every call brings the tenant's changes from the primary (when its
    generation moved), then answers."""

    def __init__(self, service: TerminologyService, pull: PrimaryPull) -> None:
        self._service = service
        self._pull = pull
        self._lookups = AnswerCache[LookupRequest, LookupResult]()
        self._validations = AnswerCache[ValidateCodeRequest, ValidateCodeResult]()
        self._subsumptions = AnswerCache[SubsumesRequest, Subsumption]()

    async def _fresh(self, ctx: TenantContext) -> TenantContext:
        await self._pull.pull(ctx.tenant.value)
        return ctx

    async def lookup(self, ctx: TenantContext, request: LookupRequest) -> LookupResult:
        tenant = ctx.tenant.value
        generation = await self._pull.pull(tenant)
        return await self._lookups.answer(
            tenant, generation, request, lambda: self._service.lookup(ctx, request)
        )

    async def validate_code(
        self, ctx: TenantContext, request: ValidateCodeRequest
    ) -> ValidateCodeResult:
        tenant = ctx.tenant.value
        generation = await self._pull.pull(tenant)
        return await self._validations.answer(
            tenant, generation, request, lambda: self._service.validate_code(ctx, request)
        )

    async def subsumes(self, ctx: TenantContext, request: SubsumesRequest) -> Subsumption:
        tenant = ctx.tenant.value
        generation = await self._pull.pull(tenant)
        return await self._subsumptions.answer(
            tenant, generation, request, lambda: self._service.subsumes(ctx, request)
        )

    def _forget(self, tenant: str) -> None:
        self._pull.forget(tenant)
        for cache in (self._lookups, self._validations, self._subsumptions):
            cache.drop_tenant(tenant)

    async def expand(self, ctx: TenantContext, request: ExpandRequest) -> Expansion:
        return await self._service.expand(await self._fresh(ctx), request)

    async def translate(self, ctx: TenantContext, request: TranslateRequest) -> TranslateResult:
        return await self._service.translate(await self._fresh(ctx), request)

    async def code_set(self, ctx: TenantContext, request: CodeSetRequest) -> CodeSet:
        return await self._service.code_set(await self._fresh(ctx), request)

    async def stats(self, ctx: TenantContext) -> TerminologyStats:
        return await self._service.stats(await self._fresh(ctx))

    # -- what every secondary answers: pulled on demand, so always caught up -------------

    async def positions(self, ctx: TenantContext) -> dict[int, int]:
        return await self._service.positions(ctx)

    async def wait_applied(
        self, ctx: TenantContext, versions: list[AppliedVersion], timeout_ms: int
    ) -> bool:
        del versions, timeout_ms  # the next call pulls whatever was written before it
        await self._fresh(ctx)
        return True

    async def wait_positions(
        self, ctx: TenantContext, positions: dict[int, int], timeout_ms: int
    ) -> bool:
        del positions, timeout_ms
        await self._fresh(ctx)
        return True

    async def versions(self, ctx: TenantContext, keys: list[ResourceKey]) -> list[IndexedVersion]:
        return await self._service.versions(await self._fresh(ctx), keys)

    async def scan(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        return await self._service.scan(await self._fresh(ctx), after, limit)

    async def remove(self, ctx: TenantContext, keys: list[ResourceKey]) -> int:
        removed = await self._service.remove(ctx, keys)
        self._forget(ctx.tenant.value)  # after: a pull meanwhile must not count as current
        return removed

    async def drop_tenant(self, ctx: TenantContext) -> int:
        dropped = await self._service.drop_tenant(ctx)
        self._forget(ctx.tenant.value)
        return dropped

    async def check_ready(self) -> None:
        await self._service.check_ready()
