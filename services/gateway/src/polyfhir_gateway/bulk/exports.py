"""Bulk jobs as the API sees them: kick-off with a per-tenant limit, status, manifest,
cancellation (files removed), files served back, and the expiry sweep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from polyfhir_core.errors import FhirError, NotFound
from polyfhir_core.jobs import Job, JobState, JsonObject
from polyfhir_core.resources import format_instant
from polyfhir_core.tenancy import TenantContext
from polyfhir_gateway.bulk.ndjson_files import RESULT
from polyfhir_gateway.bulk.storage import BulkStorage, check_key
from polyfhir_servicekit.jobs import JobRunner

BULK_KINDS = ("export", "import")


class TooManyJobs(FhirError):
    status = 429
    code = "throttled"


@dataclass(frozen=True, slots=True)
class JobStatus:
    """What a status request answers: ``job`` and whether its files are gone (expired)."""

    job: Job
    expires: datetime | None = None


@dataclass
class BulkJobs:
    runner: JobRunner
    storage: BulkStorage
    max_running: int
    expire_after: timedelta

    async def start(self, ctx: TenantContext, kind: str, params: JsonObject) -> Job:
        running = [
            job
            for bulk_kind in BULK_KINDS
            for job in await self.runner.list_jobs(ctx, bulk_kind, 1000)
            if job.state is JobState.RUNNING
        ]
        if len(running) >= self.max_running:
            raise TooManyJobs(
                f"this tenant already runs {len(running)} bulk jobs (the limit is"
                f" {self.max_running}); retry when one has finished"
            )
        return await self.runner.submit(ctx, kind, params)

    async def status(self, ctx: TenantContext, kind: str, job_id: str) -> JobStatus:
        job = await self.runner.get(ctx, job_id)
        if job.kind != kind or job.state is JobState.CANCELLED:
            raise NotFound(f"no {kind} job {job_id!r} (finished, cancelled or never started)")
        if job.finished is None:
            return JobStatus(job)
        expires = job.finished + self.expire_after
        if expires <= datetime.now(UTC):
            await self.storage.remove(job.id)
            raise NotFound(f"{kind} job {job_id!r} expired at {format_instant(expires)}")
        if job.state is JobState.COMPLETED and not await self.storage.exists(f"{job.id}/{RESULT}"):
            raise NotFound(f"{kind} job {job_id!r}: its files were removed")
        return JobStatus(job, expires)

    async def cancel(self, ctx: TenantContext, kind: str, job_id: str) -> Job:
        await self.status(ctx, kind, job_id)
        job = await self.runner.cancel(ctx, job_id)
        await self.storage.remove(job_id)
        return job

    async def read_file(self, ctx: TenantContext, job_id: str, name: str) -> AsyncIterator[bytes]:
        """A file of one of the tenant's jobs (another tenant's job is NotFound)."""
        job = await self.runner.get(ctx, job_id)
        if job.kind not in BULK_KINDS or job.state is JobState.CANCELLED:
            raise NotFound(f"no bulk file {job_id}/{name}")
        key = check_key(f"{job_id}/{name}")
        if not await self.storage.exists(key):
            raise NotFound(f"no bulk file {job_id}/{name}")
        return self.storage.read(key)

    async def sweep_expired(self) -> int:
        """Remove every job's files finished longer than the expiry ago."""
        return await self.storage.remove_older_than(datetime.now(UTC) - self.expire_after)

    async def file_urls(self, job: Job, files: list[dict[str, Any]], base: str) -> list[JsonObject]:
        out: list[JsonObject] = []
        for entry in files:
            key = f"{job.id}/{entry['name']}"
            url = await self.storage.download_url(key) or f"{base}/$bulk-file/{key}"
            out.append({"type": entry["type"], "url": url, "count": entry["count"]})
        return out


def export_manifest(
    job: Job, requires_token: bool, output: list[Any], deleted: list[Any], error: list[Any]
) -> dict[str, Any]:
    """A completed export's manifest (Bulk Data IG), given its files' ``{type, url,
    count}`` entries: served by ``$export-status``, written by ``polyfhir export --store``."""
    return {
        "transactionTime": job.params["transaction_time"],
        "request": job.params["request"],
        "requiresAccessToken": requires_token,
        "output": output,
        "deleted": deleted,
        "error": error,
    }


def progress(job: Job) -> str:
    """``X-Progress``: resources so far, and how far through the types (or inputs)."""
    if job.kind == "import":
        inputs = len(job.params.get("inputs") or []) or 1
        at = min(int((job.checkpoint or {}).get("input_index", 0)), inputs)
        return f"{job.done} resources written, {at} of {inputs} inputs done"
    types = len(job.params.get("types") or []) or 1
    at = min(int((job.checkpoint or {}).get("type_index", 0)), types)
    return f"{job.done} resources, {at} of {types} types done"
