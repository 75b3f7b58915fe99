"""An in-memory JobStore with the SQL store's semantics (tests/integration/store/test_jobs.py
runs the same expectations over SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from polyfhir_core.errors import NotFound
from polyfhir_core.jobs import Job, JobClaim, JobOutcome, JobProgress, JobState, claim_all
from polyfhir_core.tenancy import TenantContext


@dataclass
class FakeJobStore:
    jobs: dict[str, Job] = field(default_factory=dict)
    saves: int = 0  # progress saves, heartbeats included

    def _job(self, ctx: TenantContext, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.tenant != ctx.tenant.value:
            raise NotFound(f"no job {job_id!r} in this tenant")
        return job

    async def create_job(self, ctx: TenantContext, job: Job) -> Job:
        stored = replace(job, tenant=ctx.tenant.value)
        self.jobs[job.id] = stored
        return stored

    async def get_job(self, ctx: TenantContext, job_id: str) -> Job:
        return self._job(ctx, job_id)

    async def list_jobs(self, ctx: TenantContext, kind: str | None, limit: int) -> list[Job]:
        mine = [
            j
            for j in self.jobs.values()
            if j.tenant == ctx.tenant.value and (kind is None or j.kind == kind)
        ]
        return sorted(mine, key=lambda j: j.started, reverse=True)[:limit]

    async def save_job_progress(self, ctx: TenantContext, job_id: str, update: JobProgress) -> Job:
        job = self._job(ctx, job_id)
        self.saves += 1
        if job.state is JobState.RUNNING and job.owner == update.owner:
            self.jobs[job_id] = job = job.progressed(update)
        return job

    async def finish_job(self, ctx: TenantContext, job_id: str, outcome: JobOutcome) -> Job:
        self.jobs[job_id] = job = self._job(ctx, job_id).ended(outcome)
        return job

    async def request_job_cancel(self, ctx: TenantContext, job_id: str) -> Job:
        self.jobs[job_id] = job = self._job(ctx, job_id).cancel_asked()
        return job

    async def claim_orphaned_jobs(self, ctx: TenantContext, claim: JobClaim) -> list[Job]:
        claimed = claim_all(list(self.jobs.values()), claim)
        self.jobs.update({job.id: job for job in claimed})
        return claimed
