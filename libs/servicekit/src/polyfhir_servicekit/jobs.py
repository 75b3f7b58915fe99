"""Runs durable jobs (:mod:`polyfhir_core.jobs`) as asyncio tasks of this process.

A service registers the job *kinds* it can run (a body and whether it can resume
from a checkpoint) and submits jobs; the record lives in a :class:`JobStore` (the
primary database), so any process sees a job's progress. The body saves progress
after every batch through :meth:`JobRun.save`, which also carries the heartbeat and
tells the body when a cancellation was asked (from any process).

Every ``heartbeat_s`` the runner beats the heartbeat of its jobs and claims the jobs
of its kinds whose heartbeat is older than ``stale_after_s`` (their process died):
a resumable kind continues from its checkpoint, any other is marked ``failed``
("interrupted by a restart"). On a graceful stop the runner releases its jobs
(heartbeat set to the epoch) so the next process takes them over at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Gauge

from polyfhir_core.errors import BadRequest, Conflict
from polyfhir_core.jobs import (
    INTERRUPTED,
    RELEASED,
    Job,
    JobClaim,
    JobOutcome,
    JobProgress,
    JobState,
    JobStore,
    JsonObject,
)
from polyfhir_core.tenancy import TenantContext

log = logging.getLogger(__name__)
JOBS_RUNNING = Gauge("polyfhir_jobs_running", "Jobs running in this process", ["kind"])
JOBS_ENDED = Counter(
    "polyfhir_jobs_ended_total", "Jobs this process ran to an end, by state", ["kind", "state"]
)
JOBS_TAKEN_OVER = Counter(
    "polyfhir_jobs_taken_over_total",
    "Jobs a stopped process left running, taken over here: resumed or failed",
    ["kind", "outcome"],
)

# The identity under which a runner claims orphans: claims span every tenant.
HOUSEKEEPING = TenantContext.of("polyfhir-jobs")


class JobCancelled(Exception):
    """Raised by :meth:`JobRun.save` when a cancellation of the job was asked."""


class JobLost(Exception):
    """Raised by :meth:`JobRun.save` when the job ended or another process owns it now."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class JobRun:
    """What a job body sees: the job as last saved, its tenant, and ``save``."""

    def __init__(self, store: JobStore, job: Job, owner: str, clock: Callable[[], datetime]):
        self.job = job
        self.ctx = TenantContext.of(job.tenant)  # starting it checked the caller's rights
        self._store, self._owner, self._clock = store, owner, clock

    @property
    def checkpoint(self) -> JsonObject | None:
        """Where a resumed job continues (None: from the start)."""
        return self.job.checkpoint

    async def save(
        self,
        *,
        done: int | None = None,
        total: int | None = None,
        counters: dict[str, int] | None = None,
        checkpoint: JsonObject | None = None,
    ) -> None:
        """Persist progress (and the heartbeat); stop the body when asked to."""
        update = JobProgress(self._owner, self._clock(), done, total, counters, checkpoint)
        self.job = await self._store.save_job_progress(self.ctx, self.job.id, update)
        if self.job.state.terminal or self.job.owner != self._owner:
            raise JobLost(f"job {self.job.id} is no longer run by this process")
        if self.job.cancel_requested:
            raise JobCancelled(self.job.id)


JobBody = Callable[[JobRun], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    body: JobBody
    resumable: bool = False  # the body continues from ``JobRun.checkpoint``


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        kinds: Sequence[JobKind],
        *,
        heartbeat_s: float = 10.0,
        stale_after_s: float = 60.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if stale_after_s <= heartbeat_s:
            raise ValueError("stale_after_s must exceed heartbeat_s (a live job looks dead)")
        self.store = store
        self.kinds = {kind.name: kind for kind in kinds}
        self.owner = uuid.uuid4().hex
        self.heartbeat_s, self.stale_after_s, self.clock = heartbeat_s, stale_after_s, clock
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._tenant_of: dict[str, str] = {}
        self._cancelling: set[str] = set()
        self._lost: set[str] = set()
        self._sweeper: asyncio.Task[None] | None = None

    # -- the API a service offers -------------------------------------------------------

    async def start(self) -> None:
        """Take over orphans now, then beat and sweep every ``heartbeat_s``."""
        try:
            await self.claim_orphans()
        except Exception as exc:  # the store may not be up yet: the sweep tries again
            log.warning("jobs: could not claim orphaned jobs at start-up: %s", exc)
        self._sweeper = asyncio.create_task(self._sweep(), name="job-sweeper")

    async def submit(
        self, ctx: TenantContext, kind: str, params: JsonObject, total: int = 0
    ) -> Job:
        if kind not in self.kinds:
            raise BadRequest(f"no job kind {kind!r} here ({', '.join(sorted(self.kinds))})")
        now = self.clock()
        job = Job(
            id=uuid.uuid4().hex,
            tenant=ctx.tenant.value,
            kind=kind,
            params=params,
            started=now,
            total=total,
            owner=self.owner,
            heartbeat=now,
        )
        job = await self.store.create_job(ctx, job)
        self._spawn(job)
        return job

    async def get(self, ctx: TenantContext, job_id: str) -> Job:
        return await self.store.get_job(ctx, job_id)

    async def list_jobs(
        self, ctx: TenantContext, kind: str | None = None, limit: int = 100
    ) -> list[Job]:
        return await self.store.list_jobs(ctx, kind, limit)

    async def cancel(self, ctx: TenantContext, job_id: str) -> Job:
        """Ask the job to stop; when it runs here, stop it now and return it ended."""
        job = await self.store.request_job_cancel(ctx, job_id)
        task = self._tasks.get(job_id)
        if task is not None:
            self._cancelling.add(job_id)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            job = await self.store.get_job(ctx, job_id)
        if job.state is JobState.RUNNING and job.owner == self.owner:
            job = await self._finish(job, JobOutcome(JobState.CANCELLED, self.clock()))
        return job

    async def wait(self, ctx: TenantContext, job_id: str) -> Job:
        """The job once the task running it here has ended (tests, the CLI's ``--wait``)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.gather(asyncio.shield(task), return_exceptions=True)
        return await self.store.get_job(ctx, job_id)

    async def claim_orphans(self) -> list[Job]:
        """Take over jobs of this runner's kinds whose process died."""
        now = self.clock()
        claim = JobClaim(
            self.owner, sorted(self.kinds), now - timedelta(seconds=self.stale_after_s), now
        )
        claimed = await self.store.claim_orphaned_jobs(HOUSEKEEPING, claim)
        for job in claimed:
            if self.kinds[job.kind].resumable:
                log.info("job %s (%s): resumed after a restart", job.id, job.kind)
                JOBS_TAKEN_OVER.labels(job.kind, "resumed").inc()
                self._spawn(job)
            else:
                log.warning("job %s (%s): %s, marked failed", job.id, job.kind, INTERRUPTED)
                JOBS_TAKEN_OVER.labels(job.kind, "failed").inc()
                await self._finish(job, JobOutcome(JobState.FAILED, now, INTERRUPTED))
        return claimed

    async def close(self) -> None:
        """Stop every job of this process without ending it: the next process resumes it."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- inside ---------------------------------------------------------------------------

    def _spawn(self, job: Job) -> None:
        task = asyncio.create_task(self._run(job), name=f"job-{job.kind}-{job.id}")
        self._tasks[job.id], self._tenant_of[job.id] = task, job.tenant
        JOBS_RUNNING.labels(job.kind).inc()
        task.add_done_callback(lambda _: self._forget(job))

    def _forget(self, job: Job) -> None:
        self._tasks.pop(job.id, None)
        self._tenant_of.pop(job.id, None)
        JOBS_RUNNING.labels(job.kind).dec()

    async def _run(self, job: Job) -> None:
        run = JobRun(self.store, job, self.owner, self.clock)
        try:
            await self.kinds[job.kind].body(run)
            outcome = JobOutcome(JobState.COMPLETED, self.clock())
        except JobCancelled:
            outcome = JobOutcome(JobState.CANCELLED, self.clock())
        except JobLost:
            log.warning("job %s: taken over by another process; stopped here", job.id)
            return
        except asyncio.CancelledError:
            if job.id in self._cancelling:
                outcome = JobOutcome(JobState.CANCELLED, self.clock())
            elif job.id not in self._lost:
                await self._release(run)
                raise
            else:
                self._lost.discard(job.id)
                return
        except Exception as exc:  # a failed job says why; the service goes on
            log.exception("job %s (%s) failed", job.id, job.kind)
            outcome = JobOutcome(JobState.FAILED, self.clock(), f"{type(exc).__name__}: {exc}")
        try:
            await self._finish(run.job, outcome)
        except Exception as exc:  # the store is unreachable: the job's heartbeat goes stale
            log.warning("job %s: could not record it %s: %s", job.id, outcome.state.value, exc)

    async def _finish(self, job: Job, outcome: JobOutcome) -> Job:
        ctx = TenantContext.of(job.tenant)
        try:
            ended = await self.store.finish_job(ctx, job.id, outcome)
            JOBS_ENDED.labels(job.kind, outcome.state.value).inc()
            return ended
        except Conflict:  # JobNotRunning (over HTTP: its 409): it ended meanwhile
            return await self.store.get_job(ctx, job.id)
        finally:
            self._cancelling.discard(job.id)

    async def _release(self, run: JobRun) -> None:
        """A graceful stop: the job stays running with its checkpoint, owned by nobody."""
        update = JobProgress(self.owner, RELEASED)
        try:
            await self.store.save_job_progress(run.ctx, run.job.id, update)
        except Exception as exc:  # the store is gone too: the heartbeat goes stale instead
            log.warning("job %s: could not release it (%s)", run.job.id, exc)

    async def sweep(self) -> None:
        """One round of housekeeping (every ``heartbeat_s``): beat the heartbeat of this
        process's jobs, stop those cancelled or taken over elsewhere, claim orphans."""
        await self._beat()
        await self.claim_orphans()

    async def _beat(self) -> None:
        for job_id, task in list(self._tasks.items()):
            if task.done():
                continue
            ctx = TenantContext.of(self._tenant_of[job_id])
            job = await self.store.save_job_progress(
                ctx, job_id, JobProgress(self.owner, self.clock())
            )
            if job.owner != self.owner or job.state.terminal:
                self._lost.add(job_id)
                task.cancel()
            elif job.cancel_requested:
                self._cancelling.add(job_id)
                task.cancel()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)  # a periodic duty, not a wait for a condition
            try:
                await self.sweep()
            except Exception as exc:  # the store may be briefly unreachable; try again
                log.warning("job sweep failed: %s", exc)
