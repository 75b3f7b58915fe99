"""Durable jobs in the primary database: the JobStore contract (over the in-process service
and the HTTP client, on SQLite and PostgreSQL), and what a new process does with the jobs
a stopped one left running."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from polyfhir_core.contracts.primary_store import BundleKind, EntryRequest, Method
from polyfhir_core.errors import Conflict, Forbidden, NotFound
from polyfhir_core.jobs import (
    INTERRUPTED,
    Job,
    JobClaim,
    JobOutcome,
    JobProgress,
    JobState,
)
from polyfhir_core.tenancy import TenantContext, TenantPermissions
from polyfhir_gateway.repair.job_kinds import repair_kinds
from polyfhir_servicekit.jobs import HOUSEKEEPING, JobKind, JobRun, JobRunner
from support import eventually

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def _job(tenant: str, kind: str, started: datetime, **fields: Any) -> Job:
    """A job of ``kind``, owned by "p1", last heard of at ``started``. Kinds no service
    runs ("test-…") for jobs started long ago: a runner of a real kind (the store's
    reindex) would rightly claim such a stale job as an orphan mid-test."""
    return Job(
        id=uuid.uuid4().hex,
        tenant=tenant,
        kind=kind,
        params={"resourceTypes": ["Patient"], "note": "é"},
        started=started,
        owner="p1",
        heartbeat=started,
        **fields,
    )


async def test_jobs_are_stored_listed_and_scoped_to_their_tenant(server: Any, tenant: str) -> None:
    store, ctx = server.store, TenantContext.of(tenant)
    older = await store.create_job(ctx, _job(tenant, "test-reindex", T0, total=9))
    newer = await store.create_job(ctx, _job(tenant, "test-export", T0 + timedelta(seconds=1)))
    assert older.params == {"resourceTypes": ["Patient"], "note": "é"}
    assert (older.state, older.total, older.started) == (JobState.RUNNING, 9, T0)
    assert await store.get_job(ctx, older.id) == older
    assert [j.id for j in await store.list_jobs(ctx, None, 10)] == [newer.id, older.id]
    assert [j.id for j in await store.list_jobs(ctx, "test-reindex", 10)] == [older.id]
    assert [j.id for j in await store.list_jobs(ctx, None, 1)] == [newer.id]
    other = TenantContext.of(f"{tenant}x")
    assert await store.list_jobs(other, None, 10) == []
    with pytest.raises(NotFound):
        await store.get_job(other, older.id)
    with pytest.raises(Forbidden):
        await store.list_jobs(TenantContext.of(tenant, TenantPermissions.read_only()), None, 10)


async def test_progress_is_saved_by_the_owner_only_and_an_ended_job_stays_ended(
    server: Any, tenant: str
) -> None:
    store, ctx = server.store, TenantContext.of(tenant)
    job = await store.create_job(ctx, _job(tenant, "test-reindex", T0, total=10))
    beat = T0 + timedelta(seconds=10)
    update = JobProgress("p1", beat, done=4, counters={"n": 4}, checkpoint={"after": ["A", "b"]})
    saved = await store.save_job_progress(ctx, job.id, update)
    assert (saved.done, saved.total, saved.counters, saved.checkpoint, saved.heartbeat) == (
        4,
        10,
        {"n": 4},
        {"after": ["A", "b"]},
        beat,
    )
    stranger = await store.save_job_progress(ctx, job.id, JobProgress("p2", beat, done=99))
    assert stranger.done == 4  # not the owner: nothing changed
    asked = await store.request_job_cancel(ctx, job.id)
    assert asked.cancel_requested and asked.state is JobState.RUNNING
    ended = await store.finish_job(ctx, job.id, JobOutcome(JobState.CANCELLED, beat))
    assert (ended.state, ended.finished) == (JobState.CANCELLED, beat)
    with pytest.raises(Conflict):
        await store.finish_job(ctx, job.id, JobOutcome(JobState.COMPLETED, beat))
    late = await store.save_job_progress(ctx, job.id, JobProgress("p1", beat, done=5))
    assert (late.state, late.done) == (JobState.CANCELLED, 4)


async def test_orphans_are_claimed_once_and_only_when_stale(server: Any, tenant: str) -> None:
    store, ctx = server.store, TenantContext.of(tenant)
    now = datetime.now(UTC)
    stale = await store.create_job(ctx, _job(tenant, f"k{tenant}", now - timedelta(minutes=5)))
    fresh = await store.create_job(ctx, _job(tenant, f"k{tenant}", now))
    other = await store.create_job(ctx, _job(tenant, f"o{tenant}", now - timedelta(minutes=5)))
    claim = JobClaim("p2", [f"k{tenant}"], now - timedelta(minutes=1), now)
    claimed = await store.claim_orphaned_jobs(HOUSEKEEPING, claim)
    assert [(j.id, j.owner) for j in claimed] == [(stale.id, "p2")]
    assert await store.claim_orphaned_jobs(HOUSEKEEPING, claim) == []  # p2 beats it now
    assert (await store.get_job(ctx, fresh.id)).owner == "p1"
    assert (await store.get_job(ctx, other.id)).owner == "p1"


# -- a restart: a new process on the same database --------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def new_process(database_url: str) -> AsyncIterator[Any]:
    """A primary store started now on the database (as a process restarted after a crash)."""
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    app = await bootstrap(PrimarySettings(primary_url=database_url))
    try:
        yield app
    finally:
        await app.close()


async def _left_running(app: Any, tenant: str, kind: str, **fields: Any) -> Job:
    """A job as a killed process leaves it: running, with a heartbeat nobody beats."""
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    job = _job(tenant, kind, long_ago, **fields)
    stored: Job = await app.database.jobs.create_job(TenantContext.of(tenant), job)
    return stored


async def test_a_reindex_left_running_resumes_from_its_checkpoint(
    new_process: Any, database_url: str, tenant: str
) -> None:
    ctx = TenantContext.of(tenant)
    patients = [
        EntryRequest(Method.PUT, f"Patient/p{n}", {"resourceType": "Patient", "id": f"p{n}"})
        for n in range(6)
    ]
    await new_process.service.process(ctx, BundleKind.TRANSACTION, patients)
    orphan = await _left_running(
        new_process, tenant, "reindex", total=6, done=3, checkpoint={"after": ["Patient", "p2"]}
    )
    # The process that ran it is gone; a primary store starting on the database takes it over.
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    restarted = await bootstrap(PrimarySettings(primary_url=database_url))
    try:

        async def ended() -> Job | None:
            job = await restarted.service.reindex_status(ctx, orphan.id)
            return None if job.state is JobState.RUNNING else job

        job = await eventually(ended, what="the resumed reindex")
    finally:
        await restarted.close()
    # Three were done before the crash, the other three after the checkpoint: not nine.
    assert (job.state, job.done, job.total) == (JobState.COMPLETED, 6, 6)
    assert job.checkpoint == {"after": ["Patient", "p5"]}


async def test_a_rebuild_left_running_is_shown_failed_by_the_next_gateway(
    new_process: Any, tenant: str
) -> None:
    orphan = await _left_running(new_process, tenant, "rebuild")
    store = new_process.service
    gateway_jobs = JobRunner(store, repair_kinds(store, {}))
    await gateway_jobs.start()
    await gateway_jobs.close()
    job = await store.get_job(TenantContext.of(tenant), orphan.id)
    assert (job.state, job.error) == (JobState.FAILED, INTERRUPTED)
    assert job.finished is not None


class Steps:
    """A job kind of this test: six steps, saving its place after each; ``pause_after``
    holds it in flight (as a long batch would) until its process stops."""

    def __init__(self, name: str, pause_after: int | None = None) -> None:
        self.name, self.pause_after = name, pause_after
        self.ran: list[int] = []
        self.paused = asyncio.Event()

    async def body(self, run: JobRun) -> None:
        for step in range(int((run.checkpoint or {}).get("next", 0)), 6):
            self.ran.append(step)
            await run.save(done=step + 1, total=6, checkpoint={"next": step + 1})
            if step == self.pause_after:
                self.paused.set()
                await asyncio.Event().wait()  # until the process stops

    def kind(self) -> JobKind:
        return JobKind(self.name, self.body, resumable=True)


async def test_a_job_stopped_with_its_process_is_resumed_by_the_next_one(
    new_process: Any, database_url: str, tenant: str
) -> None:
    from polyfhir_primary.bootstrap import bootstrap
    from polyfhir_primary.settings import PrimarySettings

    ctx, name = TenantContext.of(tenant), f"steps-{tenant}"
    first = Steps(name, pause_after=2)
    old = JobRunner(new_process.database.jobs, [first.kind()])
    job = await old.submit(ctx, name, {})
    await first.paused.wait()
    await old.close()  # the process stops with the job in flight
    left = await new_process.database.jobs.get_job(ctx, job.id)
    assert (left.state, left.done) == (JobState.RUNNING, 3)
    restarted = await bootstrap(PrimarySettings(primary_url=database_url))
    try:
        second = Steps(name)
        new = JobRunner(restarted.database.jobs, [second.kind()])
        await new.start()
        resumed = await new.wait(ctx, job.id)
        await new.close()
    finally:
        await restarted.close()
    assert (resumed.state, resumed.done, resumed.owner) == (JobState.COMPLETED, 6, new.owner)
    assert (first.ran, second.ran) == ([0, 1, 2], [3, 4, 5])
