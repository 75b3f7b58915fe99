"""Reindex: rebuild a tenant's search index rows from its current resources.

Runs in the background in batches (one transaction each), so writes go on
meanwhile; a resource written during the reindex is indexed by its own write
with the same registry. Progress is ``done / total``; a job can be cancelled
between batches. Jobs live in the process that runs them (documented in
docs/search.md): a restart loses the job record, not data, and the reindex can
simply be started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from polyfhir_core.contracts.primary_store import JobState, ReindexJob
from polyfhir_core.errors import NotFound
from polyfhir_core.indexing.index_values import IndexValues
from polyfhir_core.registry import SearchParameterRegistry
from polyfhir_core.resources import Json
from polyfhir_core.tenancy import TenantId
from polyfhir_primary.adapters.database import Database
from polyfhir_primary.service_layer.registries import TenantRegistries

log = logging.getLogger(__name__)

Indexer = Callable[[Json, SearchParameterRegistry], IndexValues]


class Reindexer:
    def __init__(
        self, db: Database, registries: TenantRegistries, indexer: Indexer, batch: int = 200
    ) -> None:
        self.db, self.registries, self.indexer, self.batch = db, registries, indexer, batch
        self._jobs: dict[str, ReindexJob] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def start(self, tenant: TenantId, resource_types: list[str] | None) -> ReindexJob:
        async with self.db.session(tenant, write=False) as session:
            total = await session.count_current(resource_types)
        job = ReindexJob(
            id=uuid.uuid4().hex,
            tenant=tenant.value,
            resource_types=resource_types,
            state=JobState.RUNNING,
            total=total,
            done=0,
            started=datetime.now(UTC),
        )
        self._jobs[job.id] = job
        self._tasks[job.id] = asyncio.create_task(self._run(job.id, tenant))
        return job

    def status(self, tenant: TenantId, job_id: str) -> ReindexJob:
        job = self._jobs.get(job_id)
        if job is None or job.tenant != tenant.value:
            raise NotFound(f"no reindex job {job_id!r} in this tenant")
        return job

    async def cancel(self, tenant: TenantId, job_id: str) -> ReindexJob:
        self.status(tenant, job_id)
        task = self._tasks.get(job_id)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._jobs[job_id].state == JobState.RUNNING:  # cancelled before its first batch
            self._update(job_id, state=JobState.CANCELLED, finished=datetime.now(UTC))
        return self._jobs[job_id]

    async def wait(self, tenant: TenantId, job_id: str) -> ReindexJob:
        self.status(tenant, job_id)
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.shield(task)
        return self._jobs[job_id]

    def _update(self, job_id: str, **changes: object) -> None:
        self._jobs[job_id] = replace(self._jobs[job_id], **changes)  # type: ignore[arg-type]

    async def _run(self, job_id: str, tenant: TenantId) -> None:
        job = self._jobs[job_id]
        self.registries.invalidate(tenant)
        registry = await self.registries.get(tenant)
        after: tuple[str, str] | None = None
        done = 0
        try:
            while True:
                async with self.db.session(tenant, write=True) as session:
                    batch = await session.scan_current(job.resource_types, after, self.batch)
                    for stored in batch:
                        if stored.content is not None:
                            values = self.indexer(stored.content, registry)
                            await session.replace_index(stored, values)
                done += len(batch)
                self._update(job_id, done=done, total=max(job.total, done))
                if len(batch) < self.batch:
                    break
                after = (batch[-1].resource_type, batch[-1].id)
                await asyncio.sleep(0)  # a cancellation point between batches
        except asyncio.CancelledError:
            self._update(job_id, state=JobState.CANCELLED, finished=datetime.now(UTC))
            raise
        except Exception as exc:
            log.exception("reindex %s failed", job_id)
            self._update(job_id, state=JobState.FAILED, error=str(exc), finished=datetime.now(UTC))
            return
        self._update(job_id, state=JobState.COMPLETED, finished=datetime.now(UTC))
        log.info("reindex %s of tenant %s: %d resources", job_id, tenant.value, done)
