"""The primary store's handler object: implements the PrimaryStore contract.

Collaborators (database, indexer, registry, clock, id factory) are passed in
by ``bootstrap``; tests hand in others.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from urllib.parse import parse_qsl

from polyfhir_core.contracts.primary_store import (
    BundleKind,
    EntryRequest,
    EntryResponse,
    HistoryQuery,
    Page,
    ResourceVersion,
    SnapshotPage,
    SnapshotQuery,
    TenantPositions,
    TenantRecord,
    TypeGeneration,
)
from polyfhir_core.errors import BadRequest, Conflict, FhirError, Forbidden, Gone, NotFound
from polyfhir_core.indexing.index_values import IndexValues
from polyfhir_core.jobs import Job, JobClaim, JobOutcome, JobProgress
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.resource_validation import is_resource_type
from polyfhir_core.resources import Json, ResourceKey, StoredResource
from polyfhir_core.search import SearchQuery, parse_search
from polyfhir_core.tenancy import Operation, TenantContext, TenantPermissions
from polyfhir_primary.adapters.database import Database, Session, TransientConflict
from polyfhir_primary.metrics import STORAGE_LATENCY, timed
from polyfhir_primary.search import (
    Limits,
    compile_search,
    require_all_applied,
    stored_includes,
)
from polyfhir_primary.service_layer import access, change_stream, reads, tenant_lifecycle
from polyfhir_primary.service_layer.bundles import run_transaction
from polyfhir_primary.service_layer.registries import TenantRegistries, touches_search_parameters
from polyfhir_primary.service_layer.reindex import REINDEX, Reindexer, reindex_params
from polyfhir_primary.service_layer.writes import WriteContext
from polyfhir_servicekit.jobs import JobRunner

log = logging.getLogger(__name__)


def utc_now_ms() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True)
class StoreService:
    db: Database
    indexer: Callable[[Json, SearchParameterRegistry], IndexValues]
    registry: SearchParameterRegistry  # the official one; tenants layer theirs on top
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], datetime] = utc_now_ms
    new_id: Callable[[], str] = new_uuid
    max_attempts: int = 5
    job_heartbeat_s: float = 10.0
    job_stale_after_s: float = 60.0
    registries: TenantRegistries = field(init=False)
    reindexer: Reindexer = field(init=False)
    jobs: JobRunner = field(init=False)  # runs reindex jobs; started by bootstrap

    def __post_init__(self) -> None:
        self.registries = TenantRegistries(self.registry, self.db)
        self.reindexer = Reindexer(self.db, self.registries, self.indexer)
        self.jobs = JobRunner(
            self.db.jobs,
            [self.reindexer.kind()],
            heartbeat_s=self.job_heartbeat_s,
            stale_after_s=self.job_stale_after_s,
        )

    async def _find(
        self,
        session: Session,
        rtype: str,
        query: str,
        limit: int = 2,
        permissions: TenantPermissions | None = None,
    ) -> list[StoredResource]:
        """Matches of a conditional interaction or a GET entry; with ``permissions``, it
        needs the search scope, is confined to the caller's compartment and refused when
        a chain leaves the scope."""
        parsed = parse_search(rtype, parse_qsl(query, keep_blank_values=True))
        if permissions is not None:
            parsed = access.confine_search(permissions, parsed)
        registry = await self.registries.get(session.tenant, session)
        compiled = compile_search(parsed, registry, Limits(limit, limit))
        require_all_applied(compiled, f"conditional {rtype}?{query}")
        if not compiled.applied:
            raise BadRequest(f"conditional {rtype}?{query} has no search criteria")
        if permissions is not None:  # a conditional interaction is a search (docs/security.md)
            traversed = access.traversed_types(compiled.plan.criteria)
            access.require_searchable(permissions, (rtype,), traversed)
        found, _ = await session.search(compiled.plan)
        return found

    async def _transaction(
        self, ctx: TenantContext, entries: list[EntryRequest]
    ) -> list[EntryResponse]:
        definitions_change = touches_search_parameters([e.url for e in entries])
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with self.db.session(ctx.tenant, write=True) as session:
                    registry = await self.registries.get(ctx.tenant, session)

                    def index(
                        resource: Json, registry: SearchParameterRegistry = registry
                    ) -> IndexValues:
                        return self.indexer(resource, registry)

                    w = WriteContext(
                        session,
                        ctx,
                        self.clock(),
                        self.new_id,
                        index,
                        partial(self._find, permissions=ctx.permissions),
                        registry,
                    )
                    responses = await run_transaction(w, entries)
                if definitions_change:
                    self.registries.invalidate(ctx.tenant)
                return responses
            except TransientConflict as exc:
                log.info("retrying after concurrent write (attempt %d): %s", attempt, exc)
        raise Conflict("the resource is being changed concurrently; retry the request")

    async def process(
        self, ctx: TenantContext, kind: BundleKind, entries: Sequence[EntryRequest]
    ) -> list[EntryResponse]:
        started = time.perf_counter()
        try:
            if kind == BundleKind.TRANSACTION:
                return await self._transaction(ctx, list(entries))
            out = []
            for entry in entries:
                try:
                    out.extend(await self._transaction(ctx, [entry]))
                except FhirError as exc:
                    out.append(EntryResponse(status=exc.status, outcome=exc.outcome()))
            return out
        finally:
            STORAGE_LATENCY.labels(operation=kind.value).observe(time.perf_counter() - started)

    def _index(self, registry: SearchParameterRegistry) -> access.Indexer:
        return lambda content: self.indexer(content, registry)

    async def _visible(
        self, ctx: TenantContext, op: Operation, stored: StoredResource, session: Session
    ) -> StoredResource:
        """``stored``, or NotFound when the caller's compartment does not hold it."""
        if ctx.permissions.confinement(op, stored.resource_type) is None:
            return stored
        registry = await self.registries.get(ctx.tenant, session)
        if not access.visible(ctx.permissions, op, stored, registry, self._index(registry)):
            raise NotFound(f"{stored.resource_type}/{stored.id} not found")
        return stored

    @timed("read")
    async def read(self, ctx: TenantContext, resource_type: str, id: str) -> StoredResource:
        ctx.permissions.require(Operation.READ, resource_type)
        async with self.db.session(ctx.tenant, write=False) as session:
            try:
                stored = await reads.read_current(session, resource_type, id)
            except Gone:
                await self._deleted_visible(ctx, Operation.READ, session, resource_type, id)
                raise
            return await self._visible(ctx, Operation.READ, stored, session)

    @timed("vread")
    async def vread(
        self, ctx: TenantContext, resource_type: str, id: str, version: int
    ) -> StoredResource:
        ctx.permissions.require(Operation.VREAD, resource_type)
        async with self.db.session(ctx.tenant, write=False) as session:
            try:
                stored = await reads.read_version(session, resource_type, id, version)
            except Gone:
                await self._deleted_visible(ctx, Operation.VREAD, session, resource_type, id)
                raise
            return await self._visible(ctx, Operation.VREAD, stored, session)

    async def _deleted_visible(
        self, ctx: TenantContext, op: Operation, session: Session, rtype: str, rid: str
    ) -> None:
        """A confined caller learns of a deletion only when the last version with content
        was in its compartment; otherwise NotFound (the 410 would reveal the id)."""
        if ctx.permissions.confinement(op, rtype) is None:
            return
        current = await session.current(rtype, rid)
        version = current.version - 1 if current is not None else 0
        while version > 0:
            before = await session.version(rtype, rid, version)
            if before is not None and before.content is not None:
                await self._visible(ctx, op, before, session)
                return
            version -= 1
        raise NotFound(f"{rtype}/{rid} not found")

    @timed("read_many")
    async def read_many(
        self, ctx: TenantContext, keys: Sequence[ResourceKey]
    ) -> list[StoredResource]:
        for rtype in {k.resource_type for k in keys}:
            ctx.permissions.require(Operation.READ, rtype)
        found = await self.db.read_many(ctx.tenant, keys)
        return await self._only_visible(ctx, Operation.READ, found)

    async def _only_visible(
        self, ctx: TenantContext, op: Operation, found: list[StoredResource]
    ) -> list[StoredResource]:
        shows = await self._shows(ctx, op)
        return [s for s in found if shows(s)]

    async def _shows(self, ctx: TenantContext, op: Operation) -> Callable[[StoredResource], bool]:
        """Whether the caller may see a resource through ``op`` (scopes and compartment)."""
        if ctx.permissions.grants is None and ctx.permissions.compartment is None:
            return lambda _: True
        async with self.db.session(ctx.tenant, write=False) as session:
            registry = await self.registries.get(ctx.tenant, session)
        index = self._index(registry)
        return lambda s: access.visible(ctx.permissions, op, s, registry, index)

    @timed("search")
    async def search(self, ctx: TenantContext, query: SearchQuery) -> Page:
        ctx.permissions.require(Operation.SEARCH, query.resource_type)
        query = access.confine_search(ctx.permissions, query)
        async with self.db.session(ctx.tenant, write=False) as session:
            registry = await self.registries.get(ctx.tenant, session)
            compiled = compile_search(query, registry, self.limits)
            plan = compiled.plan
            traversed = access.traversed_types(plan.criteria)
            access.require_searchable(ctx.permissions, plan.resource_types or (None,), traversed)
            found, total = await session.search(plan)
            included: list[StoredResource] = []
            if query.includes and query.summary != "count":
                depth = self.limits.max_chain_depth
                specs = stored_includes(query.includes, registry)
                included = await session.included(found, specs, depth, self.limits.max_count)
                included = access.only_visible(
                    ctx.permissions, Operation.READ, included, registry, self._index(registry)
                )
        more = (total is not None and plan.offset + len(found) < total) or (
            total is None and len(found) == plan.limit
        )
        next_token = str(plan.offset + plan.limit) if more and found else None
        return Page(
            found,
            total=total,
            next_token=next_token,
            included=included,
            ignored=[p.raw_name for p in compiled.ignored],
        )

    @timed("history")
    async def history(self, ctx: TenantContext, query: HistoryQuery) -> Page:
        op = Operation.HISTORY if query.id is None else Operation.HISTORY_INSTANCE
        ctx.permissions.require(op, query.resource_type)
        rows = await self.db.history(ctx.tenant, query)
        page = rows[: query.count]
        next_token = str(page[-1].seq) if len(rows) > query.count else None
        shows = await self._shows(ctx, op)
        shown = [r for r in page if shows(r.stored)]
        return Page(
            [r.stored for r in shown], next_token=next_token, methods=[r.method for r in shown]
        )

    async def reindex(self, ctx: TenantContext, resource_types: list[str] | None) -> Job:
        ctx.permissions.require(Operation.REINDEX)
        for rtype in resource_types or ():
            if not is_resource_type(rtype):
                raise BadRequest(f"reindex: unknown resource type {rtype!r}")
        total = await self.reindexer.count(ctx.tenant, resource_types or None)
        return await self.jobs.submit(ctx, REINDEX, reindex_params(resource_types), total)

    async def _reindex_job(self, ctx: TenantContext, job_id: str) -> Job:
        ctx.permissions.require(Operation.REINDEX)
        job = await self.jobs.get(ctx, job_id)
        if job.kind != REINDEX:
            raise NotFound(f"no reindex job {job_id!r} in this tenant")
        return job

    async def reindex_status(self, ctx: TenantContext, job_id: str) -> Job:
        return await self._reindex_job(ctx, job_id)

    async def reindex_cancel(self, ctx: TenantContext, job_id: str) -> Job:
        await self._reindex_job(ctx, job_id)
        return await self.jobs.cancel(ctx, job_id)

    # -- the durable jobs of every service (JobStore); administration only ---------------

    async def create_job(self, ctx: TenantContext, job: Job) -> Job:
        ctx.permissions.require(Operation.REINDEX)
        return await self.db.jobs.create_job(ctx, job)

    async def get_job(self, ctx: TenantContext, job_id: str) -> Job:
        ctx.permissions.require(Operation.REINDEX)
        return await self.db.jobs.get_job(ctx, job_id)

    async def list_jobs(self, ctx: TenantContext, kind: str | None, limit: int) -> list[Job]:
        ctx.permissions.require(Operation.REINDEX)
        return await self.db.jobs.list_jobs(ctx, kind, limit)

    async def save_job_progress(self, ctx: TenantContext, job_id: str, update: JobProgress) -> Job:
        ctx.permissions.require(Operation.REINDEX)
        return await self.db.jobs.save_job_progress(ctx, job_id, update)

    async def finish_job(self, ctx: TenantContext, job_id: str, outcome: JobOutcome) -> Job:
        ctx.permissions.require(Operation.REINDEX)
        return await self.db.jobs.finish_job(ctx, job_id, outcome)

    async def request_job_cancel(self, ctx: TenantContext, job_id: str) -> Job:
        ctx.permissions.require(Operation.REINDEX)
        return await self.db.jobs.request_job_cancel(ctx, job_id)

    async def claim_orphaned_jobs(self, ctx: TenantContext, claim: JobClaim) -> list[Job]:
        ctx.permissions.require(Operation.REINDEX)
        return await self.db.jobs.claim_orphaned_jobs(ctx, claim)

    async def positions(self, ctx: TenantContext) -> TenantPositions:
        return await change_stream.positions(self.db, ctx)

    async def list_versions(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[ResourceVersion]:
        return await change_stream.list_versions(self.db, ctx, after, limit)

    async def republish(self, ctx: TenantContext, keys: Sequence[ResourceKey]) -> int:
        return await change_stream.republish(self.db, ctx, keys)

    async def tenants(self, ctx: TenantContext) -> list[str]:
        return await change_stream.tenants(self.db, ctx)

    async def stream_positions(self, ctx: TenantContext) -> TenantPositions:
        return await change_stream.stream_positions(self.db, ctx)

    async def type_generation(
        self, ctx: TenantContext, resource_types: list[str]
    ) -> TypeGeneration:
        return await change_stream.type_generation(self.db, ctx, resource_types)

    async def snapshot(self, ctx: TenantContext, query: SnapshotQuery) -> SnapshotPage:
        ctx.permissions.require(Operation.READ, query.resource_type)
        if ctx.permissions.confinement(Operation.READ, query.resource_type) is not None:
            # a snapshot is the whole type: never for a caller confined to a compartment
            raise Forbidden("bulk export is not available to a compartment-confined caller")
        if not is_resource_type(query.resource_type):
            raise BadRequest(f"unknown resource type {query.resource_type!r}")
        async with self.db.session(ctx.tenant, write=False) as session:
            return await session.snapshot(query)

    # -- the tenant lifecycle (service_layer/tenant_lifecycle.py) ------------------------

    async def provision_tenant(self, ctx: TenantContext) -> TenantRecord:
        return await tenant_lifecycle.provision(self.db, ctx, self.clock())

    async def list_tenants(self, ctx: TenantContext) -> list[TenantRecord]:
        return await tenant_lifecycle.list_below(self.db, ctx)

    async def get_tenant(self, ctx: TenantContext) -> TenantRecord:
        return await tenant_lifecycle.describe(self.db, ctx)

    async def start_tenant_deletion(self, ctx: TenantContext) -> TenantRecord:
        return await tenant_lifecycle.start_deletion(self.db, ctx)

    async def delete_tenant_data(self, ctx: TenantContext, batch: int) -> dict[str, int]:
        removed = await tenant_lifecycle.delete_batch(self.db, ctx, batch)
        self.registries.invalidate(ctx.tenant)  # its SearchParameters went with it
        return removed

    async def check_ready(self) -> None:
        await self.db.check()
