"""The storage port: what the service layer needs from a database.

One implementation per dialect (``sql/sqlite.py``, ``sql/postgres.py``); both
share :mod:`polyfhir_primary.adapters.sql.session` for the SQL itself.
Every call is bound to one tenant: a session is opened for a tenant and every
statement it issues filters by that tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from polyfhir_bus.events import ResourceChanged
from polyfhir_bus.relay import OutboxRecord
from polyfhir_core.contracts.primary_store import (
    HistoryQuery,
    ResourceVersion,
    SnapshotPage,
    SnapshotQuery,
    TenantPositions,
    TenantRecord,
)
from polyfhir_core.indexing.index_values import IndexValues
from polyfhir_core.jobs import JobStore
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.search import IncludeSpec
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.search.plan import SearchPlan


class TransientConflict(Exception):
    """A concurrent writer got there first (unique violation, serialization
    failure, deadlock). The whole unit of work is retried from the start."""


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """Everything one new version writes, in one transaction."""

    stored: StoredResource
    method: str
    index: IndexValues | None
    event: ResourceChanged


@dataclass(frozen=True, slots=True)
class HistoryRow:
    seq: int
    stored: StoredResource
    method: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One committed change waiting to be published (``seq`` orders commits per resource)."""

    seq: int
    tenant: str
    resource_type: str
    resource_id: str
    version: int
    payload: bytes


class Session(Protocol):
    """One database transaction for one tenant."""

    tenant: TenantId

    async def current(
        self, resource_type: str, resource_id: str, *, lock: bool = False
    ) -> StoredResource | None: ...

    async def version(
        self, resource_type: str, resource_id: str, version: int
    ) -> StoredResource | None: ...

    async def prefetch_current(self, keys: Sequence[ResourceKey]) -> None:
        """Read (and lock) the current rows of ``keys`` at once; ``current`` hands each
        out once (a transaction of many writes makes one round trip, not one each)."""

    async def save(self, record: VersionRecord, previous: int | None) -> None:
        """Insert (previous None) or replace the current version; raise TransientConflict
        when the row changed under us."""

    async def search(self, plan: SearchPlan) -> tuple[list[StoredResource], int | None]: ...

    async def included(
        self,
        matches: Sequence[StoredResource],
        specs: Sequence[IncludeSpec],
        max_depth: int,
        limit: int,
    ) -> list[StoredResource]:
        """Resources reached by _include/_revinclude from ``matches`` (same tenant only)."""

    async def lock_condition(self, resource_type: str, condition: str) -> None:
        """Serialise conditional operations on one (type, condition) until commit."""

    async def enqueue(self, event: ResourceChanged) -> None:
        """Put ``event`` in the outbox in this transaction (republish)."""

    async def scan_current(
        self, resource_types: Sequence[str] | None, after: tuple[str, str] | None, limit: int
    ) -> list[StoredResource]:
        """Current, not deleted resources in (type, id) order, after the key ``after``."""

    async def count_current(self, resource_types: Sequence[str] | None) -> int: ...

    async def snapshot(self, query: SnapshotQuery) -> SnapshotPage:
        """One page of a type as of an instant (see ``sql/snapshot.py``)."""

    async def type_generation(self, *resource_types: str) -> tuple[int, int]:
        """(number of versions, highest version sequence) written for ``resource_types``:
        changes whenever a resource of those types is created, updated or deleted."""

    async def replace_index(self, stored: StoredResource, values: IndexValues) -> None:
        """Replace the search index rows of the current version (reindex)."""


@dataclass(frozen=True, slots=True)
class DeadLetteredRow:
    """An outbox row the broker refused for good, as an operator lists it."""

    seq: int
    tenant: str
    resource_type: str
    resource_id: str
    version: int
    payload_bytes: int
    dead_lettered_at: datetime
    reason: str


class Database(Protocol):
    dialect: str

    @property
    def jobs(self) -> JobStore:
        """The durable jobs of every service (polyfhir_core.jobs), in this database."""

    def session(self, tenant: TenantId, *, write: bool) -> AbstractAsyncContextManager[Session]: ...

    async def history(self, tenant: TenantId, query: HistoryQuery) -> list[HistoryRow]: ...

    async def read_many(
        self, tenant: TenantId, keys: Sequence[ResourceKey]
    ) -> list[StoredResource]: ...

    async def outbox_backlog(self) -> int: ...

    async def prune_published(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` outbox rows published before ``before`` (never pending or
        dead-lettered ones, nor a tenant's newest published row per partition)."""

    async def pending_outbox(self, limit: int) -> list[OutboxRow]:
        """Unpublished rows, oldest first."""

    async def mark_published(self, seqs: Sequence[int]) -> None: ...

    # The outbox relay's side (polyfhir_bus.relay.OutboxSource) and freshness.
    async def outbox_unpositioned(self, limit: int) -> list[OutboxRecord]: ...

    async def outbox_positioned(self, limit: int) -> list[OutboxRecord]: ...

    async def assign_positions(self, partitions: Mapping[int, int]) -> dict[int, int]: ...

    async def mark_dead_lettered(self, reasons: Mapping[int, str]) -> None: ...

    async def dead_lettered_outbox(self, limit: int) -> list[DeadLetteredRow]:
        """Rows the broker refused for good, oldest first (an operator's list)."""

    async def retry_dead_lettered(self, seqs: Sequence[int] | None) -> int:
        """Make those rows (all when None) pending again; how many were."""

    async def claim_relay(self, wake: Callable[[], None]) -> bool: ...

    async def release_relay(self) -> None: ...

    async def positions(self, tenant: TenantId) -> TenantPositions: ...

    async def list_versions(
        self,
        tenant: TenantId,
        after: ResourceKey | None,
        limit: int,
        resource_types: Sequence[str] | None,
    ) -> list[ResourceVersion]: ...

    async def tenants(self) -> list[str]: ...

    async def stream_positions(self) -> TenantPositions: ...

    # The tenant lifecycle (docs/tenancy.md "Lifecycle"; sql/tenant_registry.py).
    async def provision_tenant(self, tenant: TenantId, now: datetime) -> bool:
        """Register ``tenant``; whether this call did (a first write also registers)."""

    async def tenant_records(self, under: TenantId) -> list[TenantRecord]:
        """``under`` and the registered tenants below it (housekeeping: every tenant)."""

    async def mark_tenant_deleting(self, tenant: TenantId) -> bool: ...

    async def delete_tenant_data(self, tenant: TenantId, batch: int) -> dict[str, int]:
        """The ONE place a tenant's data goes: up to ``batch`` rows per call, in one short
        transaction, per table how many; ``{}`` once nothing is left (the registration
        goes last). A schema- or database-per-tenant strategy drops the schema, the
        database or the file here instead."""

    async def check(self) -> None: ...

    async def close(self) -> None: ...
