"""The primary store's storage port in memory: ``FakeDatabase`` and its ``FakeSession``.

The cosmicpython ``FakeUnitOfWork`` idea: a session works on its own copy of the
tenant's committed state and commits it only when its block ends without an
exception, so a failing transaction leaves nothing behind, as a real one
does. ``save`` checks the version it replaces (a concurrent writer raises
``TransientConflict``, which a test can also inject with
``transient_conflicts``). Searches are evaluated over the index values each
version was saved with (``plan_matcher``: the clauses conditional interactions
use). Both classes satisfy their Protocols (``polyfhir_primary.adapters.database``);
``_conforms`` makes mypy check it.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fakes.jobs import FakeJobStore
from fakes.plan_matcher import matches
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
from polyfhir_core.indexing.index_values import IndexValues, ReferenceValue
from polyfhir_core.jobs import JobStore
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.search import IncludeSpec
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.database import (
    Database,
    DeadLetteredRow,
    HistoryRow,
    OutboxRow,
    Session,
    TransientConflict,
    VersionRecord,
)
from polyfhir_primary.search.plan import DEFAULT_SORT, SearchPlan

Owner = tuple[str, str, str]  # tenant, type, id


@dataclass
class _Outboxed:
    seq: int
    event: ResourceChanged
    published: bool = False
    partition: int | None = None
    position: int | None = None
    dead_letter: tuple[datetime, str] | None = None  # when and why the broker refused it


@dataclass
class StoreState:
    """Everything committed: each resource's versions (with their sequence and
    method), the current version's index values, the outbox."""

    versions: dict[Owner, list[HistoryRow]] = field(default_factory=dict)
    index: dict[Owner, IndexValues] = field(default_factory=dict)
    outbox: list[_Outboxed] = field(default_factory=list)
    seq: int = 0
    tenants: dict[str, TenantRecord] = field(default_factory=dict)  # the registry

    def current(self, owner: Owner) -> StoredResource | None:
        rows = self.versions.get(owner)
        return rows[-1].stored if rows else None

    def live(self, tenant: str) -> list[tuple[StoredResource, IndexValues]]:
        """The tenant's current, not deleted resources in (type, id) order."""
        return [
            (rows[-1].stored, self.index.get(owner, IndexValues()))
            for owner, rows in sorted(self.versions.items())
            if owner[0] == tenant and not rows[-1].stored.deleted
        ]


class FakeSession:
    """One transaction of one tenant over a private copy of the store's state."""

    def __init__(self, state: StoreState, tenant: TenantId, db: FakeDatabase) -> None:
        self.tenant = tenant
        self.state = state
        self._db = db
        self.locks: list[tuple[str, str]] = []  # lock_condition calls, in order

    def _owner(self, rtype: str, rid: str) -> Owner:
        return (self.tenant.value, rtype, rid)

    async def current(
        self, resource_type: str, resource_id: str, *, lock: bool = False
    ) -> StoredResource | None:
        return self.state.current(self._owner(resource_type, resource_id))

    async def prefetch_current(self, keys: Sequence[ResourceKey]) -> None:
        """In memory every ``current`` is one lookup already: nothing to batch."""

    async def snapshot(self, query: SnapshotQuery) -> SnapshotPage:
        """The versions current at ``as_of`` (tombstones included), in id order."""
        found: list[StoredResource] = []
        for owner, rows in sorted(self.state.versions.items()):
            tenant, rtype, rid = owner
            if (tenant, rtype) != (self.tenant.value, query.resource_type):
                continue
            if (query.after_id is not None and rid <= query.after_id) or (
                query.ids is not None and rid not in query.ids
            ):
                continue
            then = [r.stored for r in rows if r.stored.last_updated <= query.as_of]
            if then and (query.since is None or then[-1].last_updated > query.since):
                found.append(then[-1])
        page = found[: query.limit]
        more = len(found) > query.limit
        return SnapshotPage(page, page[-1].id if more and page else None)

    async def version(
        self, resource_type: str, resource_id: str, version: int
    ) -> StoredResource | None:
        rows = self.state.versions.get(self._owner(resource_type, resource_id), [])
        return next((r.stored for r in rows if r.stored.version == version), None)

    async def save(self, record: VersionRecord, previous: int | None) -> None:
        s = record.stored
        owner = self._owner(s.resource_type, s.id)
        current = self.state.current(owner)
        if self._db.transient_conflicts > 0:
            self._db.transient_conflicts -= 1
            raise TransientConflict(f"{s.resource_type}/{s.id}: injected conflict")
        if (current.version if current is not None else None) != previous:
            raise TransientConflict(f"{s.resource_type}/{s.id} changed concurrently")
        self.state.seq += 1
        self.state.tenants.setdefault(
            self.tenant.value, TenantRecord(self.tenant.value, s.last_updated)
        )
        row = HistoryRow(self.state.seq, s, record.method)
        self.state.versions.setdefault(owner, []).append(row)
        if record.index is None:
            self.state.index.pop(owner, None)
        else:
            self.state.index[owner] = record.index
        await self.enqueue(record.event)

    async def search(self, plan: SearchPlan) -> tuple[list[StoredResource], int | None]:
        if plan.sort != DEFAULT_SORT:
            raise AssertionError("the in-memory store pages in the default order only")
        found = [s for s, values in self.state.live(self.tenant.value) if matches(plan, s, values)]
        total = len(found) if plan.count_total or plan.estimate_total else None
        return found[plan.offset : plan.offset + plan.limit], total

    async def included(
        self,
        matches: Sequence[StoredResource],
        specs: Sequence[IncludeSpec],
        max_depth: int,
        limit: int,
    ) -> list[StoredResource]:
        """One level of ``_include`` (``:iterate`` is tested over the real engines)."""
        seen = {m.key for m in matches}
        out: list[StoredResource] = []
        for spec in (s for s in specs if not s.reverse):
            for m in (m for m in matches if spec.source_type in ("*", m.resource_type)):
                for ref in self._references(m, spec):
                    target = self.state.current(
                        self._owner(ref.target_type or "", ref.target_id or "")
                    )
                    if target is not None and not target.deleted and target.key not in seen:
                        seen.add(target.key)
                        out.append(target)
        return out[:limit]

    def _references(self, m: StoredResource, spec: IncludeSpec) -> list[ReferenceValue]:
        values = self.state.index.get(self._owner(m.resource_type, m.id), IndexValues())
        return [
            r
            for r in values.references
            if spec.param in ("*", r.param) and spec.target_type in (None, r.target_type)
        ]

    async def lock_condition(self, resource_type: str, condition: str) -> None:
        self.locks.append((resource_type, condition))

    async def enqueue(self, event: ResourceChanged) -> None:
        self.state.outbox.append(_Outboxed(self.state.seq, event))

    async def scan_current(
        self, resource_types: Sequence[str] | None, after: tuple[str, str] | None, limit: int
    ) -> list[StoredResource]:
        live = [s for s, _ in self.state.live(self.tenant.value)]
        found = [
            s
            for s in live
            if (not resource_types or s.resource_type in resource_types)
            and (after is None or (s.resource_type, s.id) > after)
        ]
        return found[:limit]

    async def count_current(self, resource_types: Sequence[str] | None) -> int:
        return len(await self.scan_current(resource_types, None, 1_000_000_000))

    async def type_generation(self, *resource_types: str) -> tuple[int, int]:
        rows = [
            r
            for owner, versions in self.state.versions.items()
            if owner[0] == self.tenant.value and owner[1] in resource_types
            for r in versions
        ]
        return len(rows), max((r.seq for r in rows), default=0)

    async def replace_index(self, stored: StoredResource, values: IndexValues) -> None:
        self.state.index[self._owner(stored.resource_type, stored.id)] = values


@dataclass
class FakeDatabase:
    """The store's committed state; each session works on a copy of it."""

    dialect: str = "memory"
    state: StoreState = field(default_factory=StoreState)
    transient_conflicts: int = 0  # the next saves that raise TransientConflict
    commits: int = 0
    rollbacks: int = 0
    sessions: list[FakeSession] = field(default_factory=list)  # every session opened
    relay_claimed: bool = False
    job_store: FakeJobStore = field(default_factory=FakeJobStore)
    _positions: dict[int, int] = field(default_factory=dict)  # partition -> last position

    @property
    def jobs(self) -> JobStore:
        return self.job_store

    def session(self, tenant: TenantId, *, write: bool) -> AbstractAsyncContextManager[FakeSession]:
        return self._session(tenant, write)

    @asynccontextmanager
    async def _session(self, tenant: TenantId, write: bool) -> AsyncIterator[FakeSession]:
        session = FakeSession(copy.deepcopy(self.state), tenant, self)
        self.sessions.append(session)
        try:
            yield session
        except BaseException:
            self.rollbacks += 1
            raise
        if write:
            self.state = session.state
            self.commits += 1

    async def history(self, tenant: TenantId, query: HistoryQuery) -> list[HistoryRow]:
        rows = [
            r
            for owner, versions in self.state.versions.items()
            if owner[0] == tenant.value
            and query.resource_type in (None, owner[1])
            and query.id in (None, owner[2])
            for r in versions
            if (query.since is None or r.stored.last_updated >= query.since)
            and (query.at is None or r.stored.last_updated <= query.at)
            and (query.page_token is None or r.seq < int(query.page_token))
        ]
        return sorted(rows, key=lambda r: -r.seq)[: query.count + 1]

    async def read_many(
        self, tenant: TenantId, keys: Sequence[ResourceKey]
    ) -> list[StoredResource]:
        found = [self.state.current((tenant.value, k.resource_type, k.id)) for k in keys]
        return [s for s in found if s is not None and not s.deleted]

    def _unpublished(self) -> list[_Outboxed]:
        return [o for o in self.state.outbox if not o.published and o.dead_letter is None]

    async def outbox_backlog(self) -> int:
        return len(self._unpublished())

    async def pending_outbox(self, limit: int) -> list[OutboxRow]:
        return [
            OutboxRow(
                o.seq,
                o.event.tenant,
                o.event.resource_type,
                o.event.resource_id,
                o.event.version,
                o.event.to_json(),
            )
            for o in self._unpublished()[:limit]
        ]

    async def mark_published(self, seqs: Sequence[int]) -> None:
        for o in self.state.outbox:
            if o.seq in seqs:
                o.published = True

    async def prune_published(self, before: datetime, limit: int) -> int:
        """Published rows whose event is older than ``before`` (the fake keeps no publish
        time), oldest first; pending and dead-lettered ones stay."""
        gone = [
            o.seq
            for o in self.state.outbox
            if o.published and o.event.last_updated is not None and o.event.last_updated < before
        ][:limit]
        self.state.outbox = [o for o in self.state.outbox if o.seq not in gone]
        return len(gone)

    def _record(self, o: _Outboxed) -> OutboxRecord:
        created = (
            o.event.last_updated.astimezone(UTC) if o.event.last_updated else datetime.now(UTC)
        )
        return OutboxRecord(o.seq, o.event.key, o.event.to_json(), created, o.partition, o.position)

    async def outbox_unpositioned(self, limit: int) -> list[OutboxRecord]:
        return [self._record(o) for o in self._unpublished() if o.position is None][:limit]

    async def outbox_positioned(self, limit: int) -> list[OutboxRecord]:
        return [self._record(o) for o in self._unpublished() if o.position is not None][:limit]

    async def assign_positions(self, partitions: Mapping[int, int]) -> dict[int, int]:
        """Number the rows ``seq -> partition`` per partition; rows already numbered stay."""
        positions: dict[int, int] = {}
        for o in sorted(self.state.outbox, key=lambda o: o.seq):
            if o.seq in partitions and o.position is None:
                partition = partitions[o.seq]
                self._positions[partition] = self._positions.get(partition, 0) + 1
                o.partition, o.position = partition, self._positions[partition]
                positions[o.seq] = o.position
        return positions

    async def mark_dead_lettered(self, reasons: Mapping[int, str]) -> None:
        for o in self.state.outbox:
            if o.seq in reasons:
                o.dead_letter = (datetime.now(UTC), reasons[o.seq])

    async def dead_lettered_outbox(self, limit: int) -> list[DeadLetteredRow]:
        return [
            DeadLetteredRow(
                o.seq,
                o.event.tenant,
                o.event.resource_type,
                o.event.resource_id,
                o.event.version,
                len(o.event.to_json()),
                *o.dead_letter,
            )
            for o in self.state.outbox
            if o.dead_letter is not None
        ][:limit]

    async def retry_dead_lettered(self, seqs: Sequence[int] | None) -> int:
        retried = 0
        for o in self.state.outbox:
            if o.dead_letter is not None and (seqs is None or o.seq in seqs):
                o.dead_letter, o.partition, o.position = None, None, None
                retried += 1
        return retried

    async def claim_relay(self, wake: Callable[[], None]) -> bool:
        self.relay_claimed = True
        return True

    async def release_relay(self) -> None:
        self.relay_claimed = False

    async def positions(self, tenant: TenantId) -> TenantPositions:
        mine = [o for o in self.state.outbox if o.event.tenant == tenant.value]
        last: dict[int, int] = {}
        for o in mine:
            if o.published and o.partition is not None and o.position is not None:
                last[o.partition] = max(last.get(o.partition, 0), o.position)
        return TenantPositions(last, sum(1 for o in mine if not o.published))

    async def list_versions(
        self,
        tenant: TenantId,
        after: ResourceKey | None,
        limit: int,
        resource_types: Sequence[str] | None,
    ) -> list[ResourceVersion]:
        found = [
            ResourceVersion(owner[1], owner[2], rows[-1].stored.version, rows[-1].stored.deleted)
            for owner, rows in sorted(self.state.versions.items())
            if owner[0] == tenant.value
            and (not resource_types or owner[1] in resource_types)
            and (after is None or (owner[1], owner[2]) > (after.resource_type, after.id))
        ]
        return found[:limit]

    async def tenants(self) -> list[str]:
        return sorted({owner[0] for owner in self.state.versions})

    async def stream_positions(self) -> TenantPositions:
        """Per partition the last assigned position, and every unpublished row."""
        return TenantPositions(dict(self._positions), len(self._unpublished()))

    async def provision_tenant(self, tenant: TenantId, now: datetime) -> bool:
        if tenant.value in self.state.tenants:
            return False
        self.state.tenants[tenant.value] = TenantRecord(tenant.value, now)
        return True

    async def tenant_records(self, under: TenantId) -> list[TenantRecord]:
        def counted(record: TenantRecord) -> TenantRecord:
            resources = len(self.state.live(record.tenant))
            return TenantRecord(record.tenant, record.created, record.state, resources)

        return [
            counted(r)
            for name, r in sorted(self.state.tenants.items())
            if name == under.value or TenantId(name).is_descendant_of(under)
        ]

    async def mark_tenant_deleting(self, tenant: TenantId) -> bool:
        record = self.state.tenants.get(tenant.value)
        if record is None:
            return False
        self.state.tenants[tenant.value] = TenantRecord(tenant.value, record.created, "deleting")
        return True

    async def delete_tenant_data(self, tenant: TenantId, batch: int) -> dict[str, int]:
        """Like the SQL: up to ``batch`` resources (with their versions and index) per call,
        then the outbox rows, then the registration."""
        owners = sorted(o for o in self.state.versions if o[0] == tenant.value)[:batch]
        if owners:
            for owner in owners:
                del self.state.versions[owner]
                self.state.index.pop(owner, None)
            return {"resources": len(owners)}
        kept = [o for o in self.state.outbox if o.event.tenant != tenant.value]
        if len(kept) < len(self.state.outbox):
            removed, self.state.outbox = len(self.state.outbox) - len(kept), kept
            return {"outbox": removed}
        if self.state.tenants.pop(tenant.value, None) is not None:
            return {"tenants": 1}
        return {}

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None


def _conforms(db: FakeDatabase, session: FakeSession) -> tuple[Database, Session]:
    """Type-checked only: the fakes satisfy the ports without ``type: ignore``."""
    return db, session
