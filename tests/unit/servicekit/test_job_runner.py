"""The job runner over an in-memory JobStore: progress, cancellation, failure, and what a
new process does with the jobs an old one left running (the SQL store: tests/integration)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from fakes.jobs import FakeJobStore
from polyfhir_core.errors import BadRequest, NotFound
from polyfhir_core.jobs import INTERRUPTED, RELEASED, Job, JobState
from polyfhir_core.tenancy import TenantContext
from polyfhir_servicekit.jobs import JobKind, JobRun, JobRunner

pytestmark = pytest.mark.unit
CTX = TenantContext.of("acme")
ITEMS = [f"item{n}" for n in range(6)]


class Counting:
    """A resumable kind that handles ITEMS two at a time, saving its place after each pair.

    ``gate``: when set, the body waits for it after its first save (a job "in flight")."""

    def __init__(self, gate: asyncio.Event | None = None, fail_at: int | None = None) -> None:
        self.handled: list[str] = []
        self.gate, self.fail_at = gate, fail_at
        self.saved_once = asyncio.Event()

    async def body(self, run: JobRun) -> None:
        start = int((run.checkpoint or {}).get("next", 0))
        for at in range(start, len(ITEMS), 2):
            if at == self.fail_at:
                raise RuntimeError("disk full")
            self.handled.extend(ITEMS[at : at + 2])
            await run.save(done=at + 2, total=len(ITEMS), checkpoint={"next": at + 2})
            self.saved_once.set()
            if self.gate is not None:
                await self.gate.wait()

    def kind(self, resumable: bool = True) -> JobKind:
        return JobKind("count", self.body, resumable=resumable)


async def test_a_job_runs_to_completion_and_its_progress_is_kept() -> None:
    store, work = FakeJobStore(), Counting()
    runner = JobRunner(store, [work.kind()])
    job = await runner.submit(CTX, "count", {"what": "items"})
    assert job.state is JobState.RUNNING and job.owner == runner.owner
    done = await runner.wait(CTX, job.id)
    assert (done.state, done.done, done.total) == (JobState.COMPLETED, 6, 6)
    assert done.checkpoint == {"next": 6} and done.finished is not None
    assert work.handled == ITEMS
    assert [j.id for j in await runner.list_jobs(CTX)] == [job.id]


async def test_a_failing_job_is_failed_with_its_reason() -> None:
    runner = JobRunner(FakeJobStore(), [Counting(fail_at=2).kind()])
    job = await runner.submit(CTX, "count", {})
    failed = await runner.wait(CTX, job.id)
    assert failed.state is JobState.FAILED
    assert failed.error == "RuntimeError: disk full"
    assert failed.done == 2  # what it did before failing stays visible


async def test_cancel_stops_a_job_of_this_process_at_once() -> None:
    gate = asyncio.Event()
    work = Counting(gate)
    runner = JobRunner(FakeJobStore(), [work.kind()])
    job = await runner.submit(CTX, "count", {})
    await work.saved_once.wait()
    cancelled = await runner.cancel(CTX, job.id)
    assert cancelled.state is JobState.CANCELLED and cancelled.cancel_requested
    assert work.handled == ITEMS[:2]


async def test_cancel_before_the_job_started_still_ends_it() -> None:
    runner = JobRunner(FakeJobStore(), [Counting().kind()])
    job = await runner.submit(CTX, "count", {})
    assert (await runner.cancel(CTX, job.id)).state is JobState.CANCELLED


async def test_a_cancellation_asked_elsewhere_stops_the_job_at_its_next_save() -> None:
    store, gate = FakeJobStore(), asyncio.Event()
    work = Counting(gate)
    runner = JobRunner(store, [work.kind()])
    job = await runner.submit(CTX, "count", {})
    await work.saved_once.wait()
    await store.request_job_cancel(CTX, job.id)  # e.g. another gateway replica
    gate.set()
    ended = await runner.wait(CTX, job.id)
    assert ended.state is JobState.CANCELLED
    assert work.handled == ITEMS[:4]  # the batch in flight finished, then it stopped


async def test_a_stopped_process_releases_its_job_and_the_next_one_resumes_it() -> None:
    store, gate = FakeJobStore(), asyncio.Event()
    first = Counting(gate)
    old = JobRunner(store, [first.kind()])
    job = await old.submit(CTX, "count", {})
    await first.saved_once.wait()
    await old.close()
    left = await store.get_job(CTX, job.id)
    assert left.state is JobState.RUNNING and left.heartbeat == RELEASED
    second = Counting()
    new = JobRunner(store, [second.kind()])
    await new.start()
    resumed = await new.wait(CTX, job.id)
    await new.close()
    assert (resumed.state, resumed.done, resumed.owner) == (JobState.COMPLETED, 6, new.owner)
    assert second.handled == ITEMS[2:]  # from the checkpoint, not from the start


async def test_a_job_of_a_kind_that_cannot_resume_is_shown_failed_after_a_restart() -> None:
    store = FakeJobStore()
    stale = datetime.now(UTC) - timedelta(minutes=5)
    orphan = Job("o1", "acme", "count", {}, stale, owner="dead", heartbeat=stale)
    await store.create_job(CTX, orphan)
    work = Counting()
    runner = JobRunner(store, [work.kind(resumable=False)])
    before = _taken_over("failed")
    await runner.start()
    await runner.close()
    failed = await store.get_job(CTX, "o1")
    assert (failed.state, failed.error) == (JobState.FAILED, INTERRUPTED)
    assert work.handled == []
    assert _taken_over("failed") == before + 1  # an operator sees it in /metrics too


def _taken_over(outcome: str) -> float:
    labels = {"kind": "count", "outcome": outcome}
    return REGISTRY.get_sample_value("polyfhir_jobs_taken_over_total", labels) or 0.0


async def test_a_job_whose_process_still_beats_is_left_alone() -> None:
    store = FakeJobStore()
    now = datetime.now(UTC)
    await store.create_job(CTX, Job("a1", "acme", "count", {}, now, owner="alive", heartbeat=now))
    other_kind = replace(await store.get_job(CTX, "a1"), id="k1", kind="other", heartbeat=RELEASED)
    await store.create_job(CTX, other_kind)
    runner = JobRunner(store, [Counting().kind()])
    assert await runner.claim_orphans() == []
    assert (await store.get_job(CTX, "a1")).owner == "alive"
    assert (await store.get_job(CTX, "k1")).state is JobState.RUNNING  # not this runner's kind


async def test_a_process_that_lost_its_job_to_another_stops_without_ending_it() -> None:
    store, gate = FakeJobStore(), asyncio.Event()
    work = Counting(gate)
    slow = JobRunner(store, [work.kind()])
    job = await slow.submit(CTX, "count", {})
    await work.saved_once.wait()
    store.jobs[job.id] = replace(store.jobs[job.id], owner="someone-else")  # claimed meanwhile
    gate.set()
    left = await slow.wait(CTX, job.id)
    assert (left.state, left.owner, left.done) == (JobState.RUNNING, "someone-else", 2)


async def test_unknown_kinds_and_impossible_timing_are_refused() -> None:
    runner = JobRunner(FakeJobStore(), [Counting().kind()])
    with pytest.raises(BadRequest):
        await runner.submit(CTX, "export", {})
    with pytest.raises(ValueError, match="stale_after_s"):
        JobRunner(FakeJobStore(), [], heartbeat_s=10, stale_after_s=5)


async def test_jobs_are_scoped_to_their_tenant() -> None:
    store = FakeJobStore()
    runner = JobRunner(store, [Counting().kind()])
    job = await runner.submit(CTX, "count", {})
    await runner.wait(CTX, job.id)
    other = TenantContext.of("globex")
    assert await runner.list_jobs(other) == []
    with pytest.raises(NotFound):
        await runner.get(other, job.id)


async def test_the_sweep_beats_and_stops_jobs_cancelled_or_taken_over_elsewhere() -> None:
    store, gate = FakeJobStore(), asyncio.Event()
    work = Counting(gate)
    runner = JobRunner(store, [work.kind()])
    cancelled = await runner.submit(CTX, "count", {})
    await work.saved_once.wait()
    before = (await store.get_job(CTX, cancelled.id)).heartbeat
    await runner.sweep()
    beaten = await store.get_job(CTX, cancelled.id)
    assert beaten.heartbeat is not None and before is not None and beaten.heartbeat >= before
    await store.request_job_cancel(CTX, cancelled.id)  # asked on another replica
    await runner.sweep()  # the body is still blocked in its batch: stopped by the sweep
    assert (await runner.wait(CTX, cancelled.id)).state is JobState.CANCELLED
    work.saved_once.clear()
    taken = await runner.submit(CTX, "count", {})
    await work.saved_once.wait()
    store.jobs[taken.id] = replace(store.jobs[taken.id], owner="another-process")
    await runner.sweep()
    left = await runner.wait(CTX, taken.id)
    assert (left.state, left.owner) == (JobState.RUNNING, "another-process")
