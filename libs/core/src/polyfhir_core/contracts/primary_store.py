"""The contract between the gateway and the primary store.

The gateway never talks to a database: it holds a :class:`PrimaryStore`, which
is either the primary-store service's own handler object (one-process
topology) or an HTTP client for the primary-store service (microservice
topology). Both honour exactly this contract, so the same behaviour tests run
over both.

Writes use one general mechanism: a list of :class:`EntryRequest` (the shape
of a FHIR Bundle entry). A single interaction is a transaction of one entry;
a transaction bundle is all-or-nothing; a batch bundle is independent per
entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from polyfhir_core.contracts.contract import Contract
from polyfhir_core.contracts.patch import Patch
from polyfhir_core.jobs import Job, JobStore
from polyfhir_core.resources import Json, ResourceKey, StoredResource
from polyfhir_core.search import SearchQuery
from polyfhir_core.tenancy import TenantContext


class Method(StrEnum):
    GET = "GET"
    HEAD = "HEAD"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


class BundleKind(StrEnum):
    TRANSACTION = "transaction"
    BATCH = "batch"


@dataclass(slots=True)
class EntryRequest:
    """One requested interaction, as in ``Bundle.entry.request`` (+ resource).

    ``url`` is relative to the FHIR base: ``Patient``, ``Patient/1``,
    ``Patient?identifier=x``, ``Patient/1/_history/2``.
    ``patch`` carries the patch document for PATCH (JSON Patch, JSON Merge Patch or
    FHIRPath Patch).
    """

    method: Method
    url: str
    resource: Json | None = None
    full_url: str | None = None
    if_match: str | None = None
    if_none_exist: str | None = None
    if_none_match: str | None = None
    patch: Patch | None = None


@dataclass(slots=True)
class EntryResponse:
    """The outcome of one entry, as in ``Bundle.entry.response`` (+ resource)."""

    status: int
    location: str | None = None
    etag: str | None = None
    last_modified: datetime | None = None
    resource: Json | None = None
    outcome: Json | None = None
    full_url: str | None = None
    written: ResourceVersion | None = None  # the version this entry wrote (None: wrote nothing)

    @property
    def ok(self) -> bool:
        return self.status < 400


@dataclass(slots=True)
class Page:
    """One page of a search or history."""

    resources: list[StoredResource]
    total: int | None = None
    next_token: str | None = None
    included: list[StoredResource] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # search parameters not applied
    methods: list[str] = field(default_factory=list)  # history: the request method per entry


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    resource_type: str | None = None
    id: str | None = None
    since: datetime | None = None
    at: datetime | None = None
    count: int = 50
    page_token: str | None = None


@runtime_checkable
class PrimaryStore(JobStore, Protocol):
    """Everything the gateway may ask of the authoritative store.

    It keeps the durable jobs of every service (:class:`~polyfhir_core.jobs.JobStore`):
    the gateway runs its repair jobs on records the primary holds.
    """

    async def process(
        self, ctx: TenantContext, kind: BundleKind, entries: Sequence[EntryRequest]
    ) -> list[EntryResponse]:
        """Run entries. TRANSACTION: all or nothing, raising FhirError on failure.
        BATCH: every entry independently; failures become error responses."""

    async def read(self, ctx: TenantContext, resource_type: str, id: str) -> StoredResource:
        """Current version; NotFound if never existed, Gone if deleted."""

    async def vread(
        self, ctx: TenantContext, resource_type: str, id: str, version: int
    ) -> StoredResource:
        """A specific version (a deleted version raises Gone)."""

    async def read_many(
        self, ctx: TenantContext, keys: Sequence[ResourceKey]
    ) -> list[StoredResource]:
        """Current, non-deleted versions of the keys that exist, in the order asked."""

    async def search(self, ctx: TenantContext, query: SearchQuery) -> Page:
        """Resources matching ``query`` (NotSupported for parameters it cannot answer)."""

    async def history(self, ctx: TenantContext, query: HistoryQuery) -> Page:
        """Versions newest first; ``next_token`` continues a page."""

    async def reindex(self, ctx: TenantContext, resource_types: list[str] | None) -> Job:
        """Start a reindex job (kind ``reindex``, run by the primary store): every current
        resource of the tenant (or of ``resource_types``) gets its index rows rebuilt."""

    async def reindex_status(self, ctx: TenantContext, job_id: str) -> Job: ...

    async def reindex_cancel(self, ctx: TenantContext, job_id: str) -> Job:
        """Cancel a reindex: ended at once when this process runs it, else at its next batch."""

    async def positions(self, ctx: TenantContext) -> TenantPositions:
        """Where the tenant's last published change stands in the event stream."""

    async def list_versions(
        self, ctx: TenantContext, after: ResourceKey | None, limit: int
    ) -> list[ResourceVersion]:
        """Every resource of the tenant (deleted ones too) in (type, id) order after
        ``after``, with its current version: what a reconciler compares."""

    async def republish(self, ctx: TenantContext, keys: Sequence[ResourceKey]) -> int:
        """Put the current version of each key in the outbox again (a tombstone for a
        deleted one), so secondaries re-apply it; returns how many were queued."""

    async def tenants(self, ctx: TenantContext) -> list[str]:
        """Every tenant that holds resources (deleted ones too), in order: what an
        automatic repair of a secondary walks. Administration: needs the reindex
        permission in ``ctx``'s own tenant."""

    async def stream_positions(self, ctx: TenantContext) -> TenantPositions:
        """Where the whole change stream stands (every tenant): per partition the last
        position the relay assigned, and how many changes are not published yet. With
        nothing pending, a secondary whose applied positions stay below these misses
        events it will never receive (a broker lost them). Administration: needs the
        reindex permission."""

    async def type_generation(
        self, ctx: TenantContext, resource_types: list[str]
    ) -> TypeGeneration:
        """How many versions of ``resource_types`` the tenant has written, and the highest
        version sequence among them: one cheap statement whose answer changes whenever a
        resource of those types is created, updated or deleted (a late commit with a lower
        sequence still raises the count). Whoever keeps something derived from those
        types compares it instead of re-reading them (docs/terminology.md)."""

    async def snapshot(self, ctx: TenantContext, query: SnapshotQuery) -> SnapshotPage:
        """One keyset page of ``query.resource_type`` as it stood at ``query.as_of``:
        per resource the version current then (a delete as a tombstone), in id order
        (bulk export reads a consistent snapshot with it)."""

    # -- the tenant lifecycle (docs/tenancy.md "Lifecycle"); administration: every call
    # needs the reindex permission, and ``ctx.tenant`` is the tenant managed (the
    # gateway checked that the caller may manage it) -------------------------------------

    async def provision_tenant(self, ctx: TenantContext) -> TenantRecord:
        """Register ``ctx.tenant`` (``provisioned_now``: this call did; a registered
        tenant is returned as it is)."""

    async def list_tenants(self, ctx: TenantContext) -> list[TenantRecord]:
        """``ctx.tenant`` and every tenant below it in the hierarchy that is registered."""

    async def get_tenant(self, ctx: TenantContext) -> TenantRecord:
        """The registered ``ctx.tenant``; NotFound when it is not registered."""

    async def start_tenant_deletion(self, ctx: TenantContext) -> TenantRecord:
        """Mark ``ctx.tenant`` ``deleting`` (NotFound when it is not registered); its data
        then goes through :meth:`delete_tenant_data`."""

    async def delete_tenant_data(self, ctx: TenantContext, batch: int) -> dict[str, int]:
        """Remove up to ``batch`` rows of ``ctx.tenant`` in one short transaction; per
        table how many went. Called until it returns ``{}``: then the tenant is gone,
        its registration last (its id can be provisioned again, empty)."""

    async def check_ready(self) -> None:
        """Raise when the store cannot serve requests."""


@dataclass(frozen=True, slots=True)
class TenantPositions:
    """The tenant's place in the change stream (see ``polyfhir_core.contracts.search_index``).

    ``partitions``: per Kafka partition, the position of the tenant's last
    published event there. ``pending``: committed changes of the tenant the
    relay has not published yet; while it is above zero no secondary can be
    fresh for the tenant.
    """

    partitions: dict[int, int] = field(default_factory=dict)
    pending: int = 0


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """A registered tenant: ``state`` is ``active`` or ``deleting``; ``resources``
    counts its current, not deleted resources."""

    tenant: str
    created: datetime
    state: str = "active"
    resources: int = 0
    provisioned_now: bool = False


@dataclass(frozen=True, slots=True)
class ResourceVersion:
    """A resource's current version in the primary (``deleted``: its last version is a delete)."""

    resource_type: str
    id: str
    version: int
    deleted: bool = False

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.resource_type, self.id)


@dataclass(frozen=True, slots=True)
class TypeGeneration:
    """``versions`` written of some types and the highest ``last_seq`` among them: equal
    generations mean nothing of those types was written in between."""

    versions: int = 0
    last_seq: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotQuery:
    """A page of one type as of an instant: versions written after ``as_of`` are
    invisible (a resource created after it is absent, one changed after it shows the
    version it had); ``since``: only versions written after it; ``ids``: only these."""

    resource_type: str
    as_of: datetime
    since: datetime | None = None
    after_id: str | None = None
    ids: list[str] | None = None
    limit: int = 1000


@dataclass(slots=True)
class SnapshotPage:
    """``resources``: the versions current at ``as_of`` (``deleted`` ones are tombstones
    without content); ``next_after``: the keyset to ask for the next page (None: the end)."""

    resources: list[StoredResource]
    next_after: str | None = None


PRIMARY_STORE = Contract[PrimaryStore](PrimaryStore, "/internal/v1/store", "primary store")
"""The store contract as remote calls (served by the primary-store service)."""
