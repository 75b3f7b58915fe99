"""The reconciler's merge join and repair decisions, over in-memory sides (unit).

The same reconciler runs over the real primary store and search-indexer in
tests/stack/test_repair.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from fakes.jobs import FakeJobStore
from polyfhir_core.contracts.primary_store import PrimaryStore, ResourceVersion
from polyfhir_core.contracts.search_index import SearchIndex
from polyfhir_core.contracts.secondary import IndexedVersion
from polyfhir_core.jobs import Job
from polyfhir_core.resources import ResourceKey, StoredResource
from polyfhir_core.tenancy import TenantContext, TenantId
from polyfhir_gateway.repair import reconciler
from polyfhir_gateway.repair.jobs import RepairJob, RepairKind
from polyfhir_servicekit.jobs import JobRun

pytestmark = pytest.mark.unit


class FakeStore:
    def __init__(self, rows: list[ResourceVersion], live_extra: set[ResourceKey] = frozenset()):  # type: ignore[assignment]
        self.rows = sorted(rows, key=lambda r: (r.resource_type, r.id))
        self.live_extra = set(live_extra)
        self.republished: list[ResourceKey] = []

    async def list_versions(
        self, ctx: Any, after: ResourceKey | None, limit: int
    ) -> list[ResourceVersion]:
        rows = [
            r
            for r in self.rows
            if after is None or (r.resource_type, r.id) > (after.resource_type, after.id)
        ]
        return rows[:limit]

    async def republish(self, ctx: Any, keys: list[ResourceKey]) -> int:
        self.republished.extend(keys)
        return len(keys)

    async def read_many(self, ctx: Any, keys: list[ResourceKey]) -> list[StoredResource]:
        live = {r.key for r in self.rows if not r.deleted} | self.live_extra
        now = datetime.now(UTC)
        return [
            StoredResource(TenantId.parse("acme"), k.resource_type, k.id, 1, now, False, {})
            for k in keys
            if k in live
        ]


class FakeIndex:
    def __init__(self, entries: list[IndexedVersion]):
        self.entries = sorted(entries, key=lambda e: (e.resource_type, e.id))
        self.removed: list[ResourceKey] = []
        self.dropped = False

    async def scan(
        self, tenant: str, after: ResourceKey | None, limit: int
    ) -> list[IndexedVersion]:
        rows = [
            e
            for e in self.entries
            if after is None or (e.resource_type, e.id) > (after.resource_type, after.id)
        ]
        return rows[:limit]

    async def versions(self, tenant: str, keys: list[ResourceKey]) -> list[IndexedVersion]:
        wanted = {(k.resource_type, k.id) for k in keys}
        return [e for e in self.entries if (e.resource_type, e.id) in wanted]

    async def remove(self, tenant: str, keys: list[ResourceKey]) -> int:
        self.removed.extend(keys)
        return len(keys)

    async def drop_tenant(self, tenant: str) -> int:
        self.dropped = True
        return len(self.entries)


CTX = TenantContext(TenantId.parse("acme"))


def job(checkpoint: dict[str, Any] | None = None) -> RepairJob:
    """A running repair whose saves go to an in-memory job store."""
    now = datetime.now(UTC)
    record = Job(
        "j",
        "acme",
        RepairKind.RECONCILE.value,
        {"backend": "search"},
        now,
        owner="me",
        heartbeat=now,
        checkpoint=checkpoint,
    )
    store = FakeJobStore({"j": record})
    return RepairJob(JobRun(store, record, "me", lambda: datetime.now(UTC)))


async def test_reconcile_republishes_missing_and_stale_and_removes_live_orphans() -> None:
    store = FakeStore(
        [
            ResourceVersion("Patient", "a", 2),  # index has v1: stale
            ResourceVersion("Patient", "b", 1),  # index lacks it: missing
            ResourceVersion("Patient", "c", 3, deleted=True),  # deleted, index lacks it: fine
            ResourceVersion("Patient", "d", 1),  # in sync
            ResourceVersion(
                "Patient", "e", 1
            ),  # index is ahead (a write during the walk): left alone
        ]
    )
    index = FakeIndex(
        [
            IndexedVersion("Observation", "zz", 1),  # unknown to the primary: orphan
            IndexedVersion("Patient", "a", 1),
            IndexedVersion("Patient", "d", 1),
            IndexedVersion("Patient", "e", 2),
            IndexedVersion("Patient", "x", 4, deleted=True),  # a tombstone hides nothing: kept
        ]
    )
    j = job()
    await reconciler.reconcile(CTX, store, index, j)  # type: ignore[arg-type]
    assert store.republished == [ResourceKey("Patient", "a"), ResourceKey("Patient", "b")]
    assert index.removed == [ResourceKey("Observation", "zz")]
    assert (j.progress.missing, j.progress.stale, j.progress.orphans) == (1, 1, 1)
    assert j.progress.compared == 5


async def test_an_orphan_created_during_the_walk_is_not_removed() -> None:
    created_meanwhile = ResourceKey("Patient", "new")
    store = FakeStore([], live_extra={created_meanwhile})
    index = FakeIndex([IndexedVersion("Patient", "new", 1)])
    await reconciler.reconcile(CTX, store, index, job())  # type: ignore[arg-type]
    assert index.removed == []


async def test_reconcile_pages_through_more_than_one_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconciler, "PAGE", 3)
    rows = [ResourceVersion("Patient", f"p{n:02d}", 1) for n in range(10)]
    store = FakeStore(rows)
    index = FakeIndex([IndexedVersion("Patient", f"p{n:02d}", 1) for n in range(0, 10, 2)])
    await reconciler.reconcile(CTX, store, index, job())  # type: ignore[arg-type]
    assert store.republished == [r.key for r in rows[1::2]]


async def test_rebuild_rewrites_every_live_resource_in_place_and_removes_orphans() -> None:
    store = FakeStore(
        [ResourceVersion("Patient", "a", 1), ResourceVersion("Patient", "b", 2, deleted=True)]
    )
    index = FakeIndex(
        [
            IndexedVersion("Patient", "a", 1),
            IndexedVersion("Patient", "b", 1),  # live in the index, deleted in the primary
            IndexedVersion("Patient", "z", 1),  # unknown to the primary
        ]
    )
    j = job()
    await reconciler.rebuild(CTX, store, index, j)  # type: ignore[arg-type]
    assert not index.dropped  # never emptied first: searches keep counting every resource
    assert store.republished == [ResourceKey("Patient", "a")]
    assert index.removed == [ResourceKey("Patient", "b"), ResourceKey("Patient", "z")]
    assert j.progress.removed == 2


async def _reconcile(store: FakeStore, index: FakeIndex, job: RepairJob) -> None:
    """The fakes hold the calls the reconciler makes, not the whole contracts."""
    await reconciler.reconcile(CTX, cast(PrimaryStore, store), cast(SearchIndex, index), job)


async def test_reconcile_saves_its_place_and_a_resumed_one_continues_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reconciler, "PAGE", 3)
    rows = [ResourceVersion("Patient", f"p{n:02d}", 1) for n in range(7)]
    j = job()
    await _reconcile(FakeStore(rows), FakeIndex([]), j)
    assert j.run is not None
    assert j.run.job.checkpoint == {"phase": "primary", "after": ["Patient", "p06"]}
    assert j.run.job.counters["missing"] == 7
    # A reconcile interrupted after its first page resumes after p02: p03.. only.
    store = FakeStore(rows)
    resumed = job({"phase": "primary", "after": ["Patient", "p02"]})
    await _reconcile(store, FakeIndex([]), resumed)
    assert store.republished == [r.key for r in rows[3:]]
    # One interrupted in its second pass skips the first and scans the index after the key.
    index = FakeIndex([IndexedVersion("Patient", "a", 1), IndexedVersion("Patient", "z", 1)])
    store = FakeStore(rows)
    late = job({"phase": "index", "after": ["Patient", "a"]})
    await _reconcile(store, index, late)
    assert store.republished == []
    assert index.removed == [ResourceKey("Patient", "z")]
